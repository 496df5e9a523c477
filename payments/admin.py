"""Operator console for money: payments (with a refund page), the webhook log (with replay) and
the read-only ledger. Every action goes through payments.services, which audits it."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit.services import client_ip
from audit.services import record as audit
from elite.exceptions import DomainError
from elite.money import format_money, minor_to_decimal

from . import services, webhooks
from .models import LedgerEntry, Payment, PaymentStatus, Refund, WebhookEvent, WebhookStatus


def _staff(request) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


class StaffAdmin(admin.ModelAdmin):
    """Staff (role admin) see payment models without per-model Django permissions."""

    def has_module_permission(self, request):
        return _staff(request)

    def has_view_permission(self, request, obj=None):
        return _staff(request)


class ReadOnlyAdmin(StaffAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "amount_minor",
        "currency",
        "status",
        "provider_refund_id",
        "reason",
        "error",
        "requested_by",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class LedgerInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    fields = ("created_at", "entry_type", "gross_minor", "fee_minor", "payout_minor", "currency", "idempotency_key")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        min_value=0, decimal_places=2, help_text="In the payment's currency, e.g. 25.00. Leave as is for a full refund."
    )
    reason = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        minor = amount * 100
        if minor != int(minor):
            raise forms.ValidationError("Use at most two decimals.")
        if minor <= 0:
            raise forms.ValidationError("Enter an amount greater than zero.")
        return int(minor)


@admin.register(Payment)
class PaymentAdmin(StaffAdmin):
    list_display = ("id", "order_link", "client", "provider", "amount", "refunded", "status", "flag", "created_at")
    list_filter = ("status", "provider", ("flagged_reason", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("=id", "provider_payment_id", "provider_capture_id", "client__email", "=order__id")
    list_select_related = ("order", "client")
    date_hierarchy = "created_at"
    inlines = [RefundInline, LedgerInline]
    actions = ["refund_selected"]
    readonly_fields = [f.name for f in Payment._meta.fields] + ["refund_link"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Money changes only through the refund page; the change view is read-only.
        return False

    @admin.display(description="Order", ordering="order")
    def order_link(self, obj):
        return format_html('<a href="/orders/{}/">#{}</a>', obj.order_id, obj.order_id)

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
                        payment,
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
                        f"Refund of {format_money(refund.amount_minor, refund.currency)} sent to "
                        f"{payment.get_provider_display()}; it is recorded when the provider confirms it "
                        f"(status now: {refund.get_status_display().lower()}).",
                        messages.SUCCESS,
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
class WebhookEventAdmin(ReadOnlyAdmin):
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
class LedgerEntryAdmin(ReadOnlyAdmin):
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
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "payment", "amount_minor", "currency", "status", "provider_refund_id", "requested_by")
    list_filter = ("status",)
    search_fields = ("=payment__id", "provider_refund_id")
    list_select_related = ("payment", "requested_by")
