"""Payment pages and provider webhooks. Thin: scope the object, call a service, render."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.access import role_required, verified_email_required
from core import sqlmemo
from core.fragments import rendered_each
from core.http import post_only
from core.pages import cached_page
from orders.models import Order, OrderStatus

from . import receipts as receipt_docs
from . import services, webhooks
from .ledger import CAPTURED_STATES
from .models import LedgerEntry, LedgerEntryType, Payment, PaymentStatus, Provider
from .providers import test_provider
from .providers.errors import PaymentProviderError, ProviderUnavailable, SignatureError

logger = logging.getLogger(__name__)

PAGE_SIZE = 20


def _client_order(user, order_id: int) -> Order:
    """The client's own order, or 404 (another user's order does not exist for them)."""
    return get_object_or_404(Order.objects.filter(client=user), pk=order_id)


def _client_payment(user, payment_id, **filters) -> Payment:
    try:
        pk = int(payment_id)
    except (TypeError, ValueError) as error:
        raise Http404("No such payment.") from error
    return get_object_or_404(Payment.objects.filter(client=user, **filters).select_related("order"), pk=pk)


def _done_url(request, payment: Payment) -> str:
    return reverse("payments:done", args=[payment.order_id]) + f"?payment={payment.pk}"


# --- Checkout -----------------------------------------------------------------------------


def stripe_urls(request, order: Order):
    """Where Stripe sends the client back (the pages and the API alike): done with the session id, or cancelled."""
    done = request.build_absolute_uri(reverse("payments:done", args=[order.pk]))
    cancel = request.build_absolute_uri(reverse("payments:cancelled", args=[order.pk]))
    return lambda payment: (
        f"{done}?payment={payment.pk}&session_id={{CHECKOUT_SESSION_ID}}",
        f"{cancel}?payment={payment.pk}",
    )


def paypal_urls(request, order: Order):
    back = request.build_absolute_uri(reverse("payments:paypal_return", args=[order.pk]))
    cancel = request.build_absolute_uri(reverse("payments:cancelled", args=[order.pk]))
    return lambda payment: (back, f"{cancel}?payment={payment.pk}")


@post_only("orders:detail", pk="order_id")
@verified_email_required
@role_required("client")
def checkout(request, order_id: int, provider: str):
    """POST /payments/checkout/<order_id>/<provider>/ from the order page's pay buttons."""
    order = _client_order(request.user, order_id)
    if provider == Provider.STRIPE:
        payment, url = services.start_stripe_checkout(order.pk, actor=request.user, urls=stripe_urls(request, order))
        return redirect(url)
    if provider == Provider.PAYPAL:
        return paypal_create(request, order_id)
    if provider == Provider.TEST:
        if not test_provider.is_enabled():
            raise Http404("The test provider is switched off.")
        payment = services.start_test_checkout(order.pk, actor=request.user)
        return redirect("payments:test_checkout", payment_id=payment.pk)
    raise Http404("Unknown payment method.")


@require_POST
@verified_email_required
@role_required("client")
def paypal_create(request, order_id: int):
    order = _client_order(request.user, order_id)
    payment, approve_url = services.start_paypal_checkout(
        order.pk, actor=request.user, urls=paypal_urls(request, order)
    )
    return redirect(approve_url)


def _paypal_payment(request, order: Order, token: str) -> Payment:
    """The client's PayPal payment for this order named by PayPal's order id (`token`), or 404."""
    return get_object_or_404(
        Payment.objects.filter(client=request.user, order=order, provider=Provider.PAYPAL),
        provider_payment_id=token,
    )


@require_GET
@verified_email_required
@role_required("client")
def paypal_return(request, order_id: int):
    """PayPal sends the client back here (?token=<PayPal order id>) to confirm the capture."""
    order = _client_order(request.user, order_id)
    payment = _paypal_payment(request, order, request.GET.get("token", ""))
    if payment.status in CAPTURED_STATES:
        return redirect(_done_url(request, payment))
    return render(request, "payments/paypal_return.html", {"order": order, "payment": payment})


@require_POST
@verified_email_required
@role_required("client")
def paypal_capture(request, order_id: int):
    order = _client_order(request.user, order_id)
    payment = _paypal_payment(request, order, request.POST.get("token", ""))
    try:
        outcome = services.capture_paypal(payment.pk)
    except ProviderUnavailable:
        # PayPal may have taken the money: we ask it again shortly (never a second capture).
        messages.warning(
            request,
            "PayPal has not answered yet. If the payment went through we confirm it here within minutes; "
            "you will not be charged twice.",
        )
        return redirect(_done_url(request, payment))
    if outcome == "failed":
        messages.error(request, "PayPal did not accept the payment. You have not been charged; you can try again.")
    return redirect(_done_url(request, payment))


def _payment_from_query(request, order: Order) -> Payment | None:
    value = request.GET.get("payment", "")
    if not value.isdigit():
        return order.payments.filter(client=request.user).order_by("-created_at").first()
    return get_object_or_404(Payment.objects.filter(client=request.user, order=order), pk=int(value))


@never_cache
@require_GET
@login_required
def done(request, order_id: int):
    """After checkout. Shows the TRUE state: for Stripe we ask Stripe (and fulfil through the same
    locked function as the webhook) rather than trusting that we were sent here."""
    order = _client_order(request.user, order_id)
    payment = _payment_from_query(request, order)
    problem = ""
    if payment is not None and payment.provider == Provider.STRIPE and payment.status not in CAPTURED_STATES:
        try:
            services.refresh_stripe_payment(payment.pk)
        except PaymentProviderError as error:
            problem = error.message
        payment.refresh_from_db()
    order.refresh_from_db()
    paid = payment is not None and payment.status in CAPTURED_STATES
    # Still waiting for the provider: the page looks again by itself (static/js/payments.js).
    waiting = payment is not None and payment.status in (PaymentStatus.CREATED, PaymentStatus.AUTHORIZED)
    return render(
        request,
        "payments/checkout_done.html",
        {"order": order, "payment": payment, "paid": paid, "waiting": waiting, "problem": problem},
    )


@never_cache
@require_GET
@login_required
def cancelled(request, order_id: int):
    order = _client_order(request.user, order_id)
    payment = _payment_from_query(request, order)
    return render(request, "payments/checkout_cancelled.html", {"order": order, "payment": payment})


# --- Test provider ----------------------------------------------------------------------------


def _require_test_provider():
    if not test_provider.is_enabled():
        raise Http404("The test provider is switched off.")


@never_cache
@require_GET
@verified_email_required
@role_required("client")
def test_checkout(request, payment_id: int):
    """The built-in test provider's 'hosted checkout' page: Pay or Fail."""
    _require_test_provider()
    payment = _client_payment(request.user, payment_id, provider=Provider.TEST)
    if payment.status != "created" and payment.status != "failed":
        return redirect(_done_url(request, payment))
    return render(request, "payments/test_checkout.html", {"payment": payment, "order": payment.order})


@require_POST
@verified_email_required
@role_required("client")
def test_checkout_submit(request, payment_id: int):
    _require_test_provider()
    payment = _client_payment(request.user, payment_id, provider=Provider.TEST)
    action = request.POST.get("action")
    if action == "pay":
        webhooks.deliver_test_event(
            "payment.succeeded",
            payment=payment.provider_payment_id,
            amount=payment.amount_minor,
            currency=payment.currency,
            charge=f"tch_{payment.pk}",
        )
    elif action == "fail":
        webhooks.deliver_test_event(
            "payment.failed", payment=payment.provider_payment_id, reason="The test card was declined"
        )
    else:
        return render(
            request,
            "payments/test_checkout.html",
            {"payment": payment, "order": payment.order, "error": "Choose Pay or Fail."},
            status=400,
        )
    return redirect(_done_url(request, payment))


# --- Webhooks -------------------------------------------------------------------------------------


def _webhook(request, provider: str):
    try:
        result = webhooks.receive(provider, request.body, request.headers)
    except SignatureError as error:
        logger.warning("Refused %s webhook: %s", provider, error.message)
        return JsonResponse({"error": error.message}, status=400)
    except ProviderUnavailable as error:
        # We could not ask PayPal whether the delivery is genuine: nothing stored, ask for a retry.
        logger.warning("Could not verify %s webhook: %s", provider, error.message)
        return JsonResponse({"error": error.message}, status=503)
    return JsonResponse(result.body, status=result.http_status)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    return _webhook(request, Provider.STRIPE)


@csrf_exempt
@require_POST
def paypal_webhook(request):
    return _webhook(request, Provider.PAYPAL)


@csrf_exempt
@require_POST
def test_webhook(request):
    _require_test_provider()
    return _webhook(request, Provider.TEST)


# --- Receipts and earnings ----------------------------------------------------------------------------


def _client_receipts(given) -> QuerySet[Payment]:
    """The client's payments the receipts page lists, newest first (attempts still pending left out)."""
    payments = Payment.objects.filter(client_id=given["client"]).exclude(provider_payment_id__startswith="pending_")
    return payments.select_related("order").order_by("-created_at", "-id")


@login_required
@cached_page
def receipts(request):
    """The page's count and rows are compiled once per process and kept prepared (core.sqlmemo; lookups on the
    client's index): on a miss the page spent more on building its two querysets than on running them."""
    given = {"client": request.user.pk}
    payments = sqlmemo.Paged(
        "receipts", _client_receipts, given, count_by="client_id", per_page=PAGE_SIZE, prepare=True
    )
    page = Paginator(payments, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = rendered_each(
        "payments/partials/receipt_row.html", list(page.object_list), key=_receipt_row_key, context=lambda p: {"p": p}
    )
    return render(request, "payments/receipts.html", {"page": page, "rows": rows})


def _receipt_row_key(payment: Payment) -> tuple:
    """Everything payments/partials/receipt_row.html shows (core.fragments caches rows under it)."""
    return (
        payment.pk,
        payment.created_at.isoformat(),
        payment.order_id,
        payment.order.title,
        payment.provider,
        payment.amount_minor,
        payment.refunded_minor,
        payment.currency,
        payment.status,
    )


RECEIPT_STATUSES = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def _receipt_payment(user, payment_id) -> Payment:
    """A payment of the user's that has a receipt: money was taken (someone else's or unpaid → 404)."""
    payment = _client_payment(user, payment_id, status__in=RECEIPT_STATUSES)
    return Payment.objects.select_related("order", "order__coach", "client").get(pk=payment.pk)


@login_required
def receipt(request, payment_id: int):
    payment = _receipt_payment(request.user, payment_id)
    return render(request, "payments/receipt.html", {"payment": payment, "receipt": receipt_docs.build(payment)})


@login_required
def receipt_pdf(request, payment_id: int):
    payment = _receipt_payment(request.user, payment_id)
    response = HttpResponse(receipt_docs.render_pdf(receipt_docs.build(payment)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-EWS-{payment.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


def coach_earnings(user):
    """Per order and per currency: the coach's share (net of refunds), released and pending."""
    money_rows = ~Q(entry_type=LedgerEntryType.PAYOUT)
    per_order = (
        LedgerEntry.objects.filter(coach=user)
        .values("order_id", "order__title", "order__status", "currency")
        .annotate(
            share=Sum("payout_minor", filter=money_rows, default=0),
            released=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.PAYOUT), default=0),
            rows=Count("id"),
        )
        .order_by("-order_id")
    )
    return per_order, coach_earnings_totals(user)


def _earnings_by_currency_and_status(given):
    money_rows = ~Q(entry_type=LedgerEntryType.PAYOUT)
    return (
        LedgerEntry.objects.filter(coach_id=given["coach"])
        .values("currency", "order__status")
        .annotate(
            share=Sum("payout_minor", filter=money_rows, default=0),
            released=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.PAYOUT), default=0),
        )
        .values_list("currency", "order__status", "share", "released")
    )


def coach_earnings_totals(user) -> list[dict]:
    """Per currency: the coach's share released and pending. On every coach dashboard: compiled once per
    process (core.sqlmemo; the rows come in no set order, and are summed and sorted here)."""
    totals: dict[str, dict] = {}
    found = sqlmemo.rows("coach earnings: totals", _earnings_by_currency_and_status, {"coach": user.pk}, prepare=True)
    for currency, status, share, released in found:
        total = totals.setdefault(currency, {"currency": currency, "pending": 0, "released": 0})
        total["released"] += released
        if status not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
            total["pending"] += share - released
    return sorted(totals.values(), key=lambda t: t["currency"])


@login_required
@role_required("coach")
def earnings(request):
    per_order, totals = coach_earnings(request.user)
    page = Paginator(per_order, PAGE_SIZE).get_page(request.GET.get("page"))
    for row in page.object_list:
        finished = row["order__status"] in (OrderStatus.COMPLETED, OrderStatus.CANCELLED)
        row["pending"] = 0 if finished else row["share"] - row["released"]
        row["status_label"] = OrderStatus(row["order__status"]).label
    return render(request, "payments/earnings.html", {"page": page, "totals": totals})
