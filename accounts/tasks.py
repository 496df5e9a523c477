from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string

from .models import User


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_account_email(self, user_id: int, kind: str, context: dict) -> None:
    """Email a user about their account: templates/accounts/email/<kind>_{subject.txt,body.txt,body.html}.

    accounts sits below notifications (DESIGN §3a), so it has its own small sender.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    context = {"user": user, "site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"accounts/email/{kind}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject,
        render_to_string(f"accounts/email/{kind}_body.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
    )
    message.attach_alternative(render_to_string(f"accounts/email/{kind}_body.html", context), "text/html")
    _send_or_retry(self, message)


def email_payload(message: EmailMessage) -> dict:
    """A rendered email as plain data a task message can carry."""
    return {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [[content, mimetype] for content, mimetype in getattr(message, "alternatives", [])],
    }


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_rendered_email(self, payload: dict) -> None:
    """Send an email allauth rendered during the request (confirm address, reset, "you already have an
    account"). Every signup, new email or taken one, sends through this one task (DESIGN §7)."""
    message = EmailMultiAlternatives(
        payload["subject"], payload["body"], payload["from_email"], payload["to"], headers=payload["headers"]
    )
    message.content_subtype = payload["content_subtype"]
    for content, mimetype in payload["alternatives"]:
        message.attach_alternative(content, mimetype)
    _send_or_retry(self, message)


def _send_or_retry(task, message: EmailMessage) -> None:
    try:
        message.send()
    except OSError as exc:  # SMTP trouble: try again later rather than lose the email
        raise task.retry(exc=exc) from exc
