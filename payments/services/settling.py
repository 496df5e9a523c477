"""Settling what the providers did while we were not listening: refunds and PayPal captures whose
answer was lost (a dropped connection, a timeout, a 5xx). An unknown outcome is not a failure: the
row stays as it was, its amount reserved, until the provider tells us (a webhook, or this sweep)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from ..models import Payment, PaymentStatus, Provider, Refund, RefundStatus
from ..providers.errors import PaymentProviderError
from .checkout import settle_paypal_capture
from .refunds import settle_refund

logger = logging.getLogger(__name__)

# A call this old is no longer in flight (the provider timeout is 20 s): its answer is lost.
SETTLE_AFTER = timedelta(minutes=2)


def settle_with_providers(*, older_than: timedelta = SETTLE_AFTER) -> dict[str, int]:
    """The beat job's body: ask the provider about every refund still requested and every PayPal
    capture left unanswered, sent more than `older_than` ago. A provider still unreachable is left
    for the next run. Returns how many of each were looked at and how many could not be asked."""
    cutoff = timezone.now() - older_than
    counts = {"refunds": 0, "captures": 0, "unreachable": 0}
    refunds = Refund.objects.filter(
        status=RefundStatus.REQUESTED,
        payment__provider__in=(Provider.STRIPE, Provider.PAYPAL),
        created_at__lt=cutoff,
    ).exclude(sent_at__gte=cutoff)
    for refund in refunds.order_by("pk"):
        counts["refunds"] += 1
        try:
            settle_refund(refund)
        except PaymentProviderError as error:
            counts["unreachable"] += 1
            logger.warning("Could not settle refund %s: %s", refund.pk, error.message)
    captures = Payment.objects.filter(
        provider=Provider.PAYPAL,
        status__in=(PaymentStatus.CREATED, PaymentStatus.AUTHORIZED),
        metadata__has_key="capture_sent_at",
        created_at__lt=cutoff,
    )
    for payment in captures.order_by("pk"):
        counts["captures"] += 1
        try:
            settle_paypal_capture(payment.pk)
        except PaymentProviderError as error:
            counts["unreachable"] += 1
            logger.warning("Could not settle PayPal capture of payment %s: %s", payment.pk, error.message)
    return counts
