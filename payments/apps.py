from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from . import pages

        pages.connect()  # which cached pages show payments (core.pages)

        from orders.signals import order_status_changed

        from .services import on_order_status_changed

        # Writes the coach's payout row inside the order's own transaction when it completes.
        order_status_changed.connect(on_order_status_changed, dispatch_uid="payments.release_payout")
