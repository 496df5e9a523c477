from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from . import pages

        pages.connect()  # which cached pages show orders (core.pages)

        # files builds a user's data export; our section adds their orders, timeline notes and reviews.
        from files.exports import register

        from .exports import section

        register("orders", section)

        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from coaches.directory import directory_changed

        from .models import Review

        def review_changed(**kwargs) -> None:
            # Coach pages and cards show reviews, replies and ratings: any saved or deleted review
            # (services, the staff console) makes the cached ones stale once it commits.
            transaction.on_commit(directory_changed)

        post_save.connect(review_changed, sender=Review, dispatch_uid="orders-review-directory", weak=False)
        post_delete.connect(review_changed, sender=Review, dispatch_uid="orders-review-directory-delete", weak=False)

        from .listing import order_changed
        from .models import Order

        # The API's "my orders" pages are cached per user: a saved or deleted order makes its parties' stale.
        post_save.connect(order_changed, sender=Order, dispatch_uid="orders-listing-save", weak=False)
        post_delete.connect(order_changed, sender=Order, dispatch_uid="orders-listing-delete", weak=False)
