from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib import messages
from django.contrib.sites.shortcuts import get_current_site
from django.shortcuts import redirect

from core.http import client_ip

from .models import AccountStatus

SUSPENDED_MESSAGE = "This account is suspended. Contact support if you think this is a mistake."
# Shown once ACCOUNT_RATE_LIMITS["login_failed"] (5 per 15 minutes per email) is used up. The counter is
# kept per email whether or not an account exists, so the message reveals nothing about registration.
LOCKED_MESSAGE = (
    "Too many failed login attempts: logging in with this email is locked for 15 minutes. "
    "Try again later, or reset your password."
)


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks: suspended accounts may not log in, by any route (password, reset, email link)."""

    error_messages = {**DefaultAccountAdapter.error_messages, "too_many_login_attempts": LOCKED_MESSAGE}

    def pre_login(self, request, user, **kwargs):
        if user.account_status == AccountStatus.SUSPENDED:
            from allauth.account.internal.stagekit import clear_login

            # The password was right, so saying why is no leak; forget the half-finished login.
            clear_login(request)
            messages.error(request, SUSPENDED_MESSAGE)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Render in the request (allauth's context), send from a task: the SMTP round trip leaves the
        request, and a signup with a taken email sends through the same task as a new one (DESIGN §7)."""
        from .tasks import email_payload, send_rendered_email

        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        send_rendered_email.delay(email_payload(self.render_mail(template_prefix, email, ctx)))

    def get_client_ip(self, request):
        """allauth's per-IP rate limits count the same address our audit rows record (core.http)."""
        return client_ip(request) or "unknown"  # a rate-limit key only: all callers without an address share it
