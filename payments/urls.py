from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("checkout/<int:order_id>/done/", views.done, name="done"),
    path("checkout/<int:order_id>/cancelled/", views.cancelled, name="cancelled"),
    path("checkout/<int:order_id>/<str:provider>/", views.checkout, name="checkout"),
    path("paypal/<int:order_id>/create/", views.paypal_create, name="paypal_create"),
    path("paypal/<int:order_id>/return/", views.paypal_return, name="paypal_return"),
    path("paypal/<int:order_id>/capture/", views.paypal_capture, name="paypal_capture"),
    path("test/<int:payment_id>/", views.test_checkout, name="test_checkout"),
    path("test/<int:payment_id>/submit/", views.test_checkout_submit, name="test_checkout_submit"),
    path("webhooks/stripe/", views.stripe_webhook, name="webhook_stripe"),
    path("webhooks/paypal/", views.paypal_webhook, name="webhook_paypal"),
    path("webhooks/test/", views.test_webhook, name="webhook_test"),
    path("receipts/", views.receipts, name="receipts"),
    path("receipts/<int:payment_id>/", views.receipt, name="receipt"),
    path("receipts/<int:payment_id>/pdf/", views.receipt_pdf, name="receipt_pdf"),
    path("earnings/", views.earnings, name="earnings"),
]
