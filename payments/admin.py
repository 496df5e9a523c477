"""Operator console for money: payments (with a refund page), the webhook log (with replay) and
the read-only ledger. Every action goes through payments.services, which audits it."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from audit.services import record as audit
from core.console import ConsoleAdmin, ReadOnlyInline, form_action, money
from core.exceptions import DomainError
from core.http import client_ip
from core.money import InvalidAmount, format_money, minor_per_major, minor_to_decimal, to_minor
from orders.admin import OrderAdmin
from orders.models import Order, OrderStatus
from orders.services import dispute_stage

from . import services, webhooks
from .models import LedgerEntry, Payment, PaymentStatus, Refund, WebhookEvent, WebhookStatus


def _refund_progress(refund: Refund) -> str:
    return refund.progress(refund.payment.get_provider_display())


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = (
        "created_at",
        "amount",
        "progress",
        "provider_refund_id",
        "reason",
        "error",
        "requested_by",
    )
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount(self, obj):
        return format_money(obj.amount_minor, obj.currency)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment")

    @admin.display(description="Where it is")
    def progress(self, obj):
        return _refund_progress(obj)


class LedgerInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("created_at", "entry_type", "gross_minor", "fee_minor", "payout_minor", "currency", "idempotency_key")
    readonly_fields = fields


class RefundForm(forms.Form):
    amount = forms.DecimalField(min_value=0, help_text="Leave as is for a full refund.")
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency
        example = minor_to_decimal(25 * minor_per_major(currency), currency)
        self.fields["amount"].help_text = f"In {currency}, e.g. {example}. Leave as is for a full refund."

    def clean_amount(self) -> int:
        """The typed amount in the payment's minor units (its ISO 4217 exponent, never ×100)."""
        try:
            minor = to_minor(self.cleaned_data["amount"], self.currency)
        except InvalidAmount as error:
            raise forms.ValidationError(error.message) from None
        if minor <= 0:
            raise forms.ValidationError("Enter an amount greater than zero.")
        return minor


@admin.register(Payment)
class PaymentAdmin(ConsoleAdmin):
    list_display = ("id", "order_link", "client", "provider", "amount", "refunded", "status", "flag", "created_at")
    list_filter = ("status", "provider", ("flagged_reason", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("=id", "provider_payment_id", "provider_capture_id", "client__email", "=order__id")
    list_select_related = ("order", "client")
    date_hierarchy = "created_at"
    inlines = [RefundInline, LedgerInline]
    actions = ["refund_selected"]
    readonly_fields = [f.name for f in Payment._meta.fields] + ["refund_link"]

    # Money changes only through the refund page; ConsoleAdmin makes the change view read-only.

    @admin.display(description="Order", ordering="order")
    def order_link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("orders:detail", args=[obj.order_id]), obj.order_id)

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, obj):
        return format_money(obj.amount_minor, obj.currency)

    @admin.display(description="Refunded", ordering="refunded_minor")
    def refunded(self, obj):
        return format_money(obj.refunded_minor, obj.currency) if obj.refunded_minor else "—"

    @admin.display(description="Flag")
    def flag(self, obj):
        return obj.flagged_reason[:80] if obj.flagged_reason else ""

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if obj.pk and obj.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            url = reverse("admin:payments_payment_refund", args=[obj.pk])
            return format_html('<a class="button" href="{}">Refund this payment…</a>', url)
        return "Only captured payments can be refunded."

    def get_urls(self):
        return [
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    @admin.action(description="Refund the selected payment (opens the refund form)")
    def refund_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one payment to refund.", messages.WARNING)
            return None
        return redirect("admin:payments_payment_refund", payment_id=queryset.get().pk)

    def refund_view(self, request, payment_id: int):
        """Full or partial refund: the amount defaults to everything still refundable."""
        if not request.user.is_staff:
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("order", "client"), pk=payment_id)
        remaining = services.refundable_minor(payment)
        initial = {"amount": minor_to_decimal(remaining, payment.currency)}
        form = RefundForm(request.POST or None, initial=initial, currency=payment.currency)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    refund = services.refund(
                        payment.pk,
                        amount_minor=form.cleaned_data["amount"],
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        ip_address=client_ip(request),
                    )
                except DomainError as error:
                    form.add_error(None, error.message)
                    status = error.status if error.status < 500 else 400
                else:
                    self.message_user(
                        request,
                        f"Refund of {format_money(refund.amount_minor, refund.currency)}: "
                        f"{_refund_progress(refund).lower()}. It is recorded when "
                        f"{payment.get_provider_display()} confirms it.",
                        messages.WARNING if refund.answer_lost else messages.SUCCESS,
                    )
                    return redirect("admin:payments_payment_change", payment.pk)
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund payment {payment.pk}",
            "payment": payment,
            "form": form,
            "remaining": format_money(remaining, payment.currency),
            "opts": self.model._meta,
            "original": payment,
        }
        return TemplateResponse(request, "admin/payments/refund.html", context, status=status)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ConsoleAdmin):
    list_display = ("received_at", "provider", "event_type", "event_id", "status", "attempts", "short_error")
    list_filter = ("status", "provider", "event_type")
    search_fields = ("event_id", "event_type", "=payment__id")
    date_hierarchy = "received_at"
    actions = ["replay_events"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]

    @admin.display(description="Error")
    def short_error(self, obj):
        return obj.error[:100]

    @admin.action(description="Replay the selected failed events")
    def replay_events(self, request, queryset):
        done, still_failed, skipped = 0, 0, 0
        for event in queryset.order_by("received_at"):
            if event.status not in (WebhookStatus.FAILED, WebhookStatus.DEFERRED):
                skipped += 1
                continue
            result = webhooks.replay(event)
            audit(
                "payment.webhook_replayed",
                result,
                actor=request.user,
                ip_address=client_ip(request),
                details={"status": result.status, "error": result.error[:200]},
            )
            if result.status == WebhookStatus.FAILED:
                still_failed += 1
            else:
                done += 1
        level = messages.WARNING if still_failed else messages.SUCCESS
        self.message_user(
            request,
            f"Replayed {done} event(s); {still_failed} failed again; {skipped} skipped (only failed or waiting "
            f"events can be replayed).",
            level,
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ConsoleAdmin):
    list_display = ("created_at", "entry_type", "order", "payment", "coach", "gross", "fee", "payout", "currency")
    list_filter = ("entry_type", "currency")
    search_fields = ("=order__id", "=payment__id", "coach__email", "idempotency_key")
    list_select_related = ("coach", "order", "payment")
    date_hierarchy = "created_at"

    @admin.display(description="Gross", ordering="gross_minor")
    def gross(self, obj):
        return format_money(obj.gross_minor, obj.currency)

    @admin.display(description="Fee", ordering="fee_minor")
    def fee(self, obj):
        return format_money(obj.fee_minor, obj.currency)

    @admin.display(description="Coach payout", ordering="payout_minor")
    def payout(self, obj):
        return format_money(obj.payout_minor, obj.currency)


@admin.register(Refund)
class RefundAdmin(ConsoleAdmin):
    list_display = ("created_at", "payment", "amount", "progress", "provider_refund_id", "requested_by")
    list_filter = ("status",)
    search_fields = ("=payment__id", "provider_refund_id")
    list_select_related = ("payment", "requested_by")
    actions = ["ask_the_provider"]

    @admin.display(description="Amount", ordering="amount_minor")
    def amount(self, obj):
        return format_money(obj.amount_minor, obj.currency)

    @admin.display(description="Where it is", ordering="status")
    def progress(self, obj):
        return _refund_progress(obj)

    @admin.action(description="Ask the provider what became of the selected refunds")
    def ask_the_provider(self, request, queryset):
        """The console's way to settle a refund whose answer was lost, instead of waiting for the job."""
        outcomes = []
        for refund in queryset.select_related("payment").order_by("pk"):
            try:
                outcome = services.settle_refund(refund, actor=request.user, ip_address=client_ip(request))
            except DomainError as error:
                outcome = error.message
            refund.refresh_from_db()
            outcomes.append(f"refund {refund.pk}: {_refund_progress(refund).lower()} ({outcome})")
        self.message_user(request, "; ".join(outcomes) or "No refund selected.", messages.INFO)


# --- Disputes: the order's console page gains the resolution, which moves money ---------------------


class DisputeResolutionForm(forms.Form):
    RELEASE, PARTIAL, FULL = "release", "partial", "full"
    outcome = forms.ChoiceField(
        choices=[
            (RELEASE, "Release the payment to the coach (no refund)"),
            (PARTIAL, "Partial refund to the client, the rest to the coach"),
            (FULL, "Full refund to the client (order cancelled)"),
        ],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label="Refund amount",
        required=False,
        min_value=Decimal(0),
        help_text="Only for a partial refund, in the order's currency.",
    )
    note = forms.CharField(
        label="Decision", max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), strip=True
    )

    def __init__(self, *args, refundable_minor: int, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable_minor = refundable_minor
        self.currency = currency

    def clean(self):
        data = super().clean()
        outcome, amount = data.get("outcome"), data.get("amount")
        if outcome is None:
            return data
        if outcome == self.RELEASE:
            data["refund_minor"] = 0
        elif self.refundable_minor <= 0:
            self.add_error("outcome", "There is no captured payment on this order to refund.")
        elif outcome == self.FULL:
            data["refund_minor"] = self.refundable_minor
        elif amount is None:
            self.add_error("amount", "Enter the amount to refund.")
        else:
            try:
                refund_minor = to_minor(amount, self.currency)
            except InvalidAmount as error:
                self.add_error("amount", error.message)
                return data
            if refund_minor <= 0:
                self.add_error("amount", "Enter an amount greater than zero.")
            elif refund_minor >= self.refundable_minor:
                self.add_error(
                    "amount",
                    f"A partial refund must be less than {format_money(self.refundable_minor, self.currency)}; "
                    "choose a full refund instead.",
                )
            else:
                data["refund_minor"] = refund_minor
        return data


def _said(statement, due) -> str:
    """One side's statement for the facts table: its words and evidence links, or that it is still due."""
    if statement is None:
        if due is None:
            return "(waits for the statement)"
        return f"(none yet; due by {timezone.localtime(due):%d %b %Y %H:%M})"
    files = format_html_join(
        "",
        ' · <a href="{}">{}</a>',
        ((reverse("files:download", args=[f.pk]), f.original_name) for f in statement.files.all()),
    )
    when = f"{timezone.localtime(statement.created_at):%d %b %Y %H:%M}"
    return format_html("{} ({}): {}{}", statement.author.display_name, when, statement.body, files)


def _dispute_facts(order: Order) -> list[tuple[str, str]]:
    """What staff need beside the money to decide: who disputed and why, what the other side says
    (and the opener's answer), and what was delivered."""
    facts = []
    stage = dispute_stage(order)
    if stage is not None:
        opened = stage.opened_event
        who = opened.actor.display_name if opened.actor else "the system"
        facts.append(("Dispute opened", f"{opened.created_at:%d %b %Y %H:%M} by {who}"))
        facts.append(("Reason given", opened.note or "(none)"))
        facts.append(("Other side's statement", _said(stage.statement, stage.statement_due)))
        facts.append(("Opener's answer", _said(stage.answer, stage.answer_due)))
    delivery = order.deliveries.order_by("-number").first()
    if delivery is None:
        facts.append(("Deliveries", "Nothing delivered yet"))
    else:
        files = delivery.files.count()
        summary = f"#{delivery.number} on {delivery.created_at:%d %b %Y}, {files} file{'s' if files != 1 else ''}"
        facts.append(("Latest delivery", f"{summary}: {delivery.note}" if delivery.note else summary))
    return facts


def _refundable(order: Order) -> int:
    """What the captured payments of `order` still hold (payments writes those rows)."""
    payments = Payment.objects.filter(
        order=order, status__in=(PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
    )
    return sum(services.refundable_minor(payment) for payment in payments)


admin.site.unregister(Order)


@admin.register(Order)
class OrderWithDisputesAdmin(OrderAdmin):
    """The order console page of orders/admin.py, plus resolving a dispute (a refund or a release)."""

    actions = (*OrderAdmin.actions, "resolve_dispute")

    def extra_links(self, obj: Order) -> list[str]:
        if obj.status != OrderStatus.DISPUTED:
            return []
        url = reverse("admin:orders_order_resolve_dispute", args=[obj.pk])
        return [format_html('<a class="button" href="{}">Resolve this dispute…</a>', url)]

    def get_urls(self):
        return [
            path(
                "<int:order_id>/resolve-dispute/",
                self.admin_site.admin_view(self.resolve_dispute_view),
                name="orders_order_resolve_dispute",
            ),
            *super().get_urls(),
        ]

    def resolve_dispute_view(self, request, order_id: int):
        """The resolve-dispute action for one order, reached from its page (a button) instead of the list."""
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        response = self.resolve_dispute(request, Order.objects.filter(pk=order.pk))
        return response or redirect("admin:orders_order_change", order.pk)

    @admin.action(description="Resolve the selected dispute…", permissions=["moderate"])
    def resolve_dispute(self, request, queryset):
        orders = list(queryset[:2])
        if len(orders) != 1:
            self.message_user(request, "Select exactly one disputed order to resolve.", messages.WARNING)
            return None
        order = orders[0]
        if order.status != OrderStatus.DISPUTED:
            self.message_user(request, f"{order} is not disputed ({order.get_status_display()}).", messages.ERROR)
            return None
        refundable = _refundable(order)
        ip = client_ip(request)
        return form_action(
            self,
            request,
            queryset,
            action="resolve_dispute",
            form_class=DisputeResolutionForm,
            form_kwargs={"refundable_minor": refundable, "currency": order.currency},
            title="Resolve dispute",
            intro="Release the payment to the coach, or refund the client part or all of it through the "
            "payment provider. Both parties are notified.",
            perform=lambda order, data: services.resolve_dispute(
                order.pk, actor=request.user, refund_minor=data["refund_minor"], note=data["note"], ip_address=ip
            ),
            done="Dispute resolved.",
            max_objects=1,
            context={
                "facts": [
                    ("Order amount", money(order.amount_minor, order.currency)),
                    ("Refundable now", money(refundable, order.currency)),
                    *_dispute_facts(order),
                ]
            },
        )
