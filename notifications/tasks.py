from celery import shared_task

from .emails import send_templated_email
from .models import Notification


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notification_email(self, notification_id: int, context: dict) -> None:
    """Email one notification, once: a redelivery (worker lost mid-task) finds its outbox key sent."""
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None:
        return
    try:
        send_templated_email(
            notification.user.email,
            notification.kind,
            {"notification": notification, "user": notification.user, **context},
            key=f"notification:{notification.pk}",
        )
    except OSError as exc:  # SMTP trouble: try again later rather than lose the email
        raise self.retry(exc=exc) from exc
