from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        # orders sits below messaging, so it announces new orders and we open their thread here.
        from orders.signals import order_created

        from .receivers import open_thread_for_new_order

        order_created.connect(open_thread_for_new_order, dispatch_uid="messaging.open_thread_for_new_order")
