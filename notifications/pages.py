"""Which cached pages (core.pages) show notifications: the recipient's (the bell, the inbox, the dashboard).

notify_many's bulk_create and mark_read's update send no signal: they call users_changed themselves."""

from core.pages import follow, ignore

from .models import EmailPreference, Notification, SentEmail


def connect() -> None:
    follow(Notification, lambda notification, **_: (notification.user_id,))
    follow(EmailPreference, lambda preference, **_: (preference.user_id,))
    ignore(SentEmail)
