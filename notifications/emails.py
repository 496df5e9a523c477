"""One helper renders and sends every email: subject, plain text and HTML templates."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string, select_template


def _render_first(names: list[str], context: dict) -> str:
    return select_template(names).render(context)


def send_templated_email(to: list[str] | str, template: str, context: dict, *, key: str | None = None) -> None:
    """Render templates/emails/<template>_{subject.txt,body.txt,body.html} and send.

    Falls back to the generic `notification` templates when a kind has none of its own. With `key`
    (from a task, which may be delivered twice) the outbox sends it at most once per key.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        return
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    names = [template, "notification"]
    subject = _render_first([f"emails/{n}_subject.txt" for n in names], context)
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + " ".join(subject.split())
    text_body = _render_first([f"emails/{n}_body.txt" for n in names], context)
    try:
        html_body = _render_first([f"emails/{n}_body.html" for n in names], context)
    except TemplateDoesNotExist:
        html_body = render_to_string("emails/notification_body.html", context)
    message = EmailMultiAlternatives(subject, text_body, settings.DEFAULT_FROM_EMAIL, recipients)
    message.attach_alternative(html_body, "text/html")
    if key is None:
        message.send()
        return
    from .services import deliver_once

    deliver_once(key, message.send, description=f"{template} to {', '.join(recipients)}")
