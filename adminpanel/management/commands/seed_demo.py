"""Idempotent demo data: run it as often as you like, it converges on the same accounts."""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User

DEMO_PASSWORD = "demo-pass-2026"
DEMO_ACCOUNTS = [
    ("staff@elite.example", Role.ADMIN, "Sam", "Staff"),
    ("client@elite.example", Role.CLIENT, "Chloe", "Client"),
    ("client2@elite.example", Role.CLIENT, "Daniel", "Okafor"),
    ("coach@elite.example", Role.COACH, "Grace", "Coach"),
]


class Command(BaseCommand):
    help = "Create (or refresh) the demo marketplace: staff, clients, coaches, orders."

    @transaction.atomic
    def handle(self, *args, **options):
        for email, role, first, last in DEMO_ACCOUNTS:
            user, created = User.objects.get_or_create(
                email=email, defaults={"role": role, "first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD}):"))
        for email, role, _first, _last in DEMO_ACCOUNTS:
            self.stdout.write(f"  {role:<7} {email}")
