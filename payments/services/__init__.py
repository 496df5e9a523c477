"""Every change to money goes through here (DESIGN.md §3), one module per concern:

- `checkout`: a client starts paying (Stripe Checkout, PayPal order, the local test provider);
- `fulfilment`: the one place a payment becomes captured, authorized, failed or flagged, and the payout
  entry when an order completes;
- `refunds`: money sent back through the provider, recorded when the provider confirms it;
- `settling`: asking the providers what became of refunds and captures whose answer was lost;
- `disputes`: staff release the payment or refund the client, after claiming the resolution;
- `common`: which providers are on, locking, staff alerts.

Views, webhooks, the admin and the test provider call these functions as `payments.services.<name>`.

Signature: `verb(target_id, *, actor, …, ip_address=None)`. Every service locks the row it changes, so
the target is its id: the order's for checkout and disputes, the payment's for everything else. What
a person does (pay, refund, resolve) names them as `actor` and records `ip_address` on the audit row;
what a provider tells us (fulfilment, webhook-driven refunds) has no actor and names its `source`.
Lock order, everywhere: the Payment row first, then its Order (orders.services locks it again,
harmlessly, inside the same transaction). Provider HTTP calls happen outside our transactions
except where noted; idempotency keys make a repeated call harmless.
"""

from .checkout import (
    apply_stripe_session,
    begin_payment,
    capture_paypal,
    check_can_pay,
    refresh_stripe_payment,
    settle_paypal_capture,
    start_paypal_checkout,
    start_stripe_checkout,
    start_test_checkout,
)
from .common import BLOCKING_STATES, CAPTURED_STATES, admin_link, alert_staff, available_providers, lock_payment
from .disputes import RESOLUTION_CLAIM_TIMEOUT, resolve_dispute
from .fulfilment import (
    Outcome,
    flag_payment,
    fulfil_payment,
    lock_for_fulfilment,
    mark_authorized,
    mark_failed,
    on_order_status_changed,
    receipt_in_capture,
)
from .refunds import fail_refund, record_provider_refund, refund, refundable_minor, settle_refund
from .settling import SETTLE_AFTER, settle_with_providers

__all__ = [
    "BLOCKING_STATES",
    "CAPTURED_STATES",
    "Outcome",
    "RESOLUTION_CLAIM_TIMEOUT",
    "SETTLE_AFTER",
    "admin_link",
    "alert_staff",
    "apply_stripe_session",
    "available_providers",
    "begin_payment",
    "capture_paypal",
    "check_can_pay",
    "fail_refund",
    "flag_payment",
    "fulfil_payment",
    "lock_for_fulfilment",
    "lock_payment",
    "mark_authorized",
    "mark_failed",
    "on_order_status_changed",
    "receipt_in_capture",
    "record_provider_refund",
    "refresh_stripe_payment",
    "refund",
    "refundable_minor",
    "resolve_dispute",
    "settle_paypal_capture",
    "settle_refund",
    "settle_with_providers",
    "start_paypal_checkout",
    "start_stripe_checkout",
    "start_test_checkout",
]
