from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        from . import pages

        pages.connect()  # which cached pages show messaging (core.pages)

        # The order page's Conversation card: the order's thread and the viewer's unread count, read with the order.
        from orders.pages import read_with_order_page

        from .services import CARD_UNREAD, CARD_VIEWER, card_unread

        read_with_order_page(join="thread", annotate={CARD_UNREAD: card_unread}, viewer=CARD_VIEWER)

        # files builds a user's data export; our section adds the messages they sent.
        from files.exports import register

        from .exports import section

        register("messages", section)

        # orders sits below messaging, so it announces new orders and we open their thread here.
        from orders.signals import order_created

        from .receivers import open_thread_for_new_order

        order_created.connect(open_thread_for_new_order, dispatch_uid="messaging.open_thread_for_new_order")

        # notifications sits below messaging too: its unread count rides on our live channel.
        from notifications.signals import unread_changed

        from .realtime import notifications_changed

        unread_changed.connect(notifications_changed, dispatch_uid="messaging.notifications_changed")

        # accounts announces logouts, password changes and suspensions: open sockets must not outlive them.
        from accounts.signals import sessions_changed

        from .realtime import sessions_changed as close_ended_sessions

        sessions_changed.connect(close_ended_sessions, dispatch_uid="messaging.sessions_changed")
