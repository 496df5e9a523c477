"""payments on the REST API: start a Stripe Checkout or a PayPal order, capture it; the webhook aliases.

The client follows `checkout_url` / `approve_url` in a browser; the order becomes paid when the provider's
signed webhook arrives (or the capture succeeds), exactly as for the pay buttons on the order page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.permissions import VerifiedEmail
from core.api import StrictSerializer, examples, role_permission, takes
from orders.models import Order

from . import services, views
from .models import Payment, Provider


@examples({"My unpaid order": {"order_id": 311}})
class OrderRefSerializer(StrictSerializer):
    order_id = serializers.IntegerField()


@examples({"Back from the PayPal approval page": {"order_id": 311, "token": "5O190127TN364715T"}})
class CaptureSerializer(OrderRefSerializer):
    token = serializers.CharField(max_length=64, help_text="PayPal's order id (the `token` on the return URL).")


@examples(
    {
        "Stripe Checkout": {
            "payment_id": 905,
            "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4e5F6",
        },
        "PayPal approval": {
            "payment_id": 906,
            "checkout_url": "https://www.paypal.com/checkoutnow?token=5O190127TN364715T",
        },
    }
)
class CheckoutSerializer(serializers.Serializer):
    payment_id = serializers.IntegerField()
    checkout_url = serializers.URLField(help_text="Send the client's browser here.")


@examples({"Captured and paid": {"payment_id": 906, "outcome": "captured", "status": "captured"}})
class CaptureResultSerializer(serializers.Serializer):
    payment_id = serializers.IntegerField()
    outcome = serializers.CharField(help_text="The fulfilment outcome, or pending / failed.")
    status = serializers.CharField()


class PaymentView(APIView):
    permission_classes = (role_permission("client"), VerifiedEmail)

    def client_order(self, request, order_id: int) -> Order:
        """The client's own order, or 404 — the pay buttons' rule."""
        return get_object_or_404(Order.objects.filter(client=request.user), pk=order_id)


class StartCheckout(PaymentView):
    """Send the client's browser to `checkout_url`; the order is paid once the provider confirms it (its
    signed webhook, or the PayPal capture). Someone else's order is a 404, a paid one a 409."""

    start: Callable[..., tuple[Payment, str]]  # the provider's start_*_checkout service
    return_urls: Callable[..., Callable]  # the pages' builder of where the provider sends the client back

    @takes(OrderRefSerializer, responses={201: CheckoutSerializer})
    def post(self, request, data):
        order = self.client_order(request, data["order_id"])
        payment, url = self.start(order.pk, actor=request.user, urls=self.return_urls(request, order))
        return Response({"payment_id": payment.pk, "checkout_url": url}, status=201)


@extend_schema(summary="Start a Stripe Checkout for an unpaid order (verified client)")
class StripeCheckout(StartCheckout):
    start = staticmethod(services.start_stripe_checkout)
    return_urls = staticmethod(views.stripe_urls)


@extend_schema(summary="Create a PayPal order for an unpaid order (verified client)")
class PayPalOrder(StartCheckout):
    start = staticmethod(services.start_paypal_checkout)
    return_urls = staticmethod(views.paypal_urls)


class PayPalCapture(PaymentView):
    @takes(CaptureSerializer, summary="Capture an approved PayPal order", responses={200: CaptureResultSerializer})
    def post(self, request, data):
        order = self.client_order(request, data["order_id"])
        payment = get_object_or_404(
            Payment.objects.filter(client=request.user, order=order, provider=Provider.PAYPAL),
            provider_payment_id=data["token"],
        )
        outcome = services.capture_paypal(payment.pk)
        payment.refresh_from_db()
        return Response({"payment_id": payment.pk, "outcome": outcome, "status": payment.status})


urlpatterns = [
    path("payments/checkout-session", StripeCheckout.as_view(), name="payments-checkout-session"),
    path("payments/paypal/order", PayPalOrder.as_view(), name="payments-paypal-order"),
    path("payments/paypal/capture", PayPalCapture.as_view(), name="payments-paypal-capture"),
    # The existing signature-verified webhook views, at the API's paths too (not JSON API operations).
    path("payments/webhook/stripe", views.stripe_webhook, name="payments-webhook-stripe"),
    path("payments/webhook/paypal", views.paypal_webhook, name="payments-webhook-paypal"),
]
