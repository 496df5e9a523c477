from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
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
    try:
        message.send()
    except OSError as exc:  # SMTP trouble: try again later rather than lose the email
        raise self.retry(exc=exc) from exc
