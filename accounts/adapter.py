from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib import messages
from django.contrib.sites.shortcuts import get_current_site
from django.shortcuts import redirect

from core.http import client_ip

from .models import AccountStatus

SUSPENDED_MESSAGE = "This account is suspended. Contact support if you think this is a mistake."
# Shown once ACCOUNT_RATE_LIMITS["login_failed"] is used up: 5 per 15 minutes per email, or 10 a minute from one
# address (allauth raises the same error for both, so the text is true of both). The counter is kept per email
# whether or not an account exists, so the message reveals nothing about registration.
LOCKED_MESSAGE = (
    "Too many failed login attempts: logging in is paused for this email or from your network, "
    "for up to 15 minutes. Try again later, or reset your password."
)


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks: suspended accounts may not log in, by any route (password, reset, email link)."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": LOCKED_MESSAGE,
        "incorrect_code": "That code is not right. Check the email we sent you and type the code again.",
    }

    def pre_login(self, request, user, **kwargs):
        if user.account_status == AccountStatus.SUSPENDED:
            from allauth.account.internal.stagekit import clear_login

            # The password was right, so saying why is no leak; forget the half-finished login.
            clear_login(request)
            messages.error(request, SUSPENDED_MESSAGE)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)

    def send_confirmation_mail(self, request, emailconfirmation, signup: bool) -> None:
        """The code for this browser and, unlike allauth's code mode, a link for any other device
        (accounts.verification.ConfirmLinkView). The link signs the address's pk, so it needs a saved row."""
        from allauth.account import app_settings as account_settings
        from allauth.account.models import EmailConfirmationHMAC

        address = emailconfirmation.email_address
        if not account_settings.EMAIL_VERIFICATION_BY_CODE_ENABLED or not address.pk:
            return super().send_confirmation_mail(request, emailconfirmation, signup)
        link = EmailConfirmationHMAC(address)
        ctx = {
            "user": address.user,
            "code": emailconfirmation.key,
            "activate_url": self.get_email_confirmation_url(request, link),
            "code_minutes": account_settings.EMAIL_VERIFICATION_BY_CODE_TIMEOUT // 60,
            "link_days": account_settings.EMAIL_CONFIRMATION_EXPIRE_DAYS,
        }
        template = "account/email/email_confirmation_signup" if signup else "account/email/email_confirmation"
        self.send_mail(template, address.email, ctx)

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
