"""`manage.py reconcile_ledger`: check every ledger invariant, and with --providers compare the ledger
with what Stripe and PayPal say for the last days; exit 1 on any mismatch (for cron/CI)."""

from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment
from payments.provider_reconcile import compare_with_providers, recent_window


class Command(BaseCommand):
    help = "Check that the ledger balances against payments, refunds and orders. Exits non-zero on a mismatch."

    def add_arguments(self, parser):
        parser.add_argument(
            "--providers", action="store_true", help="Also compare with what Stripe and PayPal say for the period."
        )
        parser.add_argument("--days", type=int, default=2, help="With --providers: how many days to look back.")
        parser.add_argument(
            "--until", default="", help="With --providers: the end of the period (ISO time; default a while ago)."
        )

    def handle(self, *args, **options):
        problems = reconcile()
        if options["providers"]:
            until = datetime.fromisoformat(options["until"]) if options["until"] else None
            problems += compare_with_providers(*recent_window(until, look_back=timedelta(days=options["days"])))
        rows, payments = LedgerEntry.objects.count(), Payment.objects.count()
        if problems:
            for problem in problems:
                self.stderr.write(f"MISMATCH: {problem}")
            raise CommandError(f"{len(problems)} ledger problem(s) found in {rows} rows / {payments} payments.")
        self.stdout.write(self.style.SUCCESS(f"Ledger reconciles: {rows} rows, {payments} payments, no mismatch."))
