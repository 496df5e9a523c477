from celery import shared_task

from . import kinds
from .emails import send_templated_email
from .models import Notification
from .services import wants_email


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notification_email(self, notification_id: int, context: dict) -> None:
    """Email one notification, once: a redelivery (worker lost mid-task) finds its outbox key sent.

    The recipient's preference is read again here: switched off since the notification was written
    (or while this task waited for a retry), the email is not sent; the inbox row stays.
    """
    try:
        _email(notification_id, context)
    except OSError as exc:  # SMTP trouble: try again later rather than lose the email
        raise self.retry(exc=exc) from exc


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notification_emails(self, emails: list[tuple[int, dict]]) -> None:
    """Email several notifications written together (notify_many): one task published, not one each.

    Each email keeps its own outbox key, so a retry after one of them failed (or a redelivery) sends
    only those not sent yet; the others find their key sent.
    """
    try:
        for notification_id, context in emails:
            _email(notification_id, context)
    except OSError as exc:
        raise self.retry(exc=exc) from exc


def _email(notification_id: int, context: dict) -> None:
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None or not wants_email(notification.user, notification.kind):
        return
    send_templated_email(
        notification.user.email,
        notification.kind,
        {"notification": notification, "user": notification.user, **context},
        key=f"notification:{notification.pk}",
        unsubscribe=(notification.user, notification.category),
        always_sent=kinds.always_emailed(notification.kind, notification.category),
    )
