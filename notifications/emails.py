"""One helper renders and sends every email: subject, plain text and HTML templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string, select_template
from django.urls import reverse

if TYPE_CHECKING:
    from accounts.models import User


def _render_first(names: list[str], context: dict) -> str:
    return select_template(names).render(context)


def unsubscribe_context(user: User, category: str, *, always: bool = False) -> tuple[dict, dict[str, str]]:
    """The footer's links and the RFC 2369/8058 headers for an email of `category` to `user`.

    The link is signed and needs no login: GET shows a confirmation page, POST (the page's button, or
    a mail app's one-click request announced by List-Unsubscribe-Post) switches the category off.
    Emails no preference stops (money, security: `always`) link to "all optional emails" instead and
    carry no headers, so a mail app's Unsubscribe button never promises to stop a receipt.
    """
    from . import kinds, services

    meta = kinds.info(category)
    always = always or meta.always_email
    token = services.unsubscribe_token(user, services.ALL_OPTIONAL if always else category)
    url = settings.SITE_URL + reverse("notifications:unsubscribe", args=[token])
    context = {
        "unsubscribe_url": url,
        "preferences_url": settings.SITE_URL + reverse("notifications:preferences"),
        "email_category_label": meta.label.lower(),
        "email_always_sent": always,
    }
    headers = {} if always else {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return context, headers


def send_templated_email(
    to: list[str] | str,
    template: str,
    context: dict,
    *,
    key: str | None = None,
    unsubscribe: tuple[User, str] | None = None,
    always_sent: bool = False,
) -> None:
    """Render templates/emails/<template>_{subject.txt,body.txt,body.html} and send.

    Falls back to the generic `notification` templates when a kind has none of its own. With `key`
    (from a task, which may be delivered twice) the outbox sends it at most once per key. With
    `unsubscribe` (the recipient and the email's category) the email carries a signed unsubscribe link
    in its footer, text and HTML alike, and the List-Unsubscribe headers (`always_sent`: a notice no
    preference stops, whose link offers to stop the optional emails instead).
    """
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        return
    headers: dict[str, str] = {}
    context = {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL, **context}
    if unsubscribe is not None:
        extra, headers = unsubscribe_context(*unsubscribe, always=always_sent)
        context.update(extra)
    names = [template, "notification"]
    subject = _render_first([f"emails/{n}_subject.txt" for n in names], context)
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + " ".join(subject.split())
    text_body = _render_first([f"emails/{n}_body.txt" for n in names], context)
    if unsubscribe is not None:
        text_body = text_body.rstrip() + "\n\n" + render_to_string("emails/_unsubscribe.txt", context)
    try:
        html_body = _render_first([f"emails/{n}_body.html" for n in names], context)
    except TemplateDoesNotExist:
        html_body = render_to_string("emails/notification_body.html", context)
    message = EmailMultiAlternatives(
        subject, text_body, settings.DEFAULT_FROM_EMAIL, recipients, headers=headers or None
    )
    message.attach_alternative(html_body, "text/html")
    if key is None:
        message.send()
        return
    from .services import deliver_once

    deliver_once(key, message.send, description=f"{template} to {', '.join(recipients)}")
