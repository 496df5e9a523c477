"""Shared by the payment services: which providers are on, locking, and alerting staff."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from accounts.models import User
from core.http import current_request_id
from notifications.services import notify

from .. import ledger
from ..models import Payment, PaymentStatus, Provider
from ..providers import paypal_client, stripe_client, test_provider

logger = logging.getLogger(__name__)

CAPTURED_STATES = ledger.CAPTURED_STATES
# A payment in one of these states blocks a new checkout for the same order.
BLOCKING_STATES = (PaymentStatus.AUTHORIZED, *CAPTURED_STATES)


def available_providers() -> list[str]:
    """Providers a client can pay with here, in the order the buttons are shown."""
    providers: list[str] = []
    if stripe_client.is_configured():
        providers.append(Provider.STRIPE)
    if paypal_client.is_configured():
        providers.append(Provider.PAYPAL)
    if test_provider.is_enabled():
        providers.append(Provider.TEST)
    return providers


def lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().select_related("order").get(pk=payment_id)


# --- Staff alerts --------------------------------------------------------------------------


def alert_staff(kind: str, text: str, *, link: str = "") -> None:
    """Tell every active staff member at once: an in-app notification (emailed to them), plus the
    STAFF_ALERT_EMAILS inbox. Call inside the transaction that records the problem."""
    for user in User.objects.filter(is_staff=True, is_active=True, account_status="active"):
        notify(user, kind, text, link=link)
    recipients = list(settings.STAFF_ALERT_EMAILS)
    if recipients:
        subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Payments alert: {kind.replace('_', ' ')}"
        body = f"{text}\n\n{settings.SITE_URL}{link}" if link else text
        body += f"\n\nRequest id (for the logs and Sentry): {current_request_id()}"
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


def admin_link(payment: Payment) -> str:
    return reverse("admin:payments_payment_change", args=[payment.pk])
