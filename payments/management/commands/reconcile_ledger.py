"""`manage.py reconcile_ledger`: check every ledger invariant; exit 1 on any mismatch (for cron/CI)."""

from django.core.management.base import BaseCommand, CommandError

from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment


class Command(BaseCommand):
    help = "Check that the ledger balances against payments, refunds and orders. Exits non-zero on a mismatch."

    def handle(self, *args, **options):
        problems = reconcile()
        rows, payments = LedgerEntry.objects.count(), Payment.objects.count()
        if problems:
            for problem in problems:
                self.stderr.write(f"MISMATCH: {problem}")
            raise CommandError(f"{len(problems)} ledger problem(s) found in {rows} rows / {payments} payments.")
        self.stdout.write(self.style.SUCCESS(f"Ledger reconciles: {rows} rows, {payments} payments, no mismatch."))
