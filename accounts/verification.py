"""Email verification: a short code typed in the signup browser, or a link opened anywhere (issue 15 item 5).

allauth's code mode (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED) keeps the code in the session and, on the
right code, finishes the pending signup login: the user lands signed in. Its email has no link and its
link URL is not registered, so the email also carries a signed HMAC link (AccountAdapter.send_confirmation_mail)
served by ConfirmLinkView here: on the signup browser it signs in too; on another device it confirms and
asks to log in (allauth never signs in from a link without the pending login in the session — a leaked
link must not be a login).

A taken email at signup gets the same code page (allauth's "fake" verification with no user behind it):
every code is wrong, a new code can be asked for, and the work per step is the same (see resend below).
"""

from __future__ import annotations

import time
from http import HTTPStatus

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import ConfirmEmailVerificationCodeForm
from allauth.account.internal.flows.email_verification import verify_email_and_resume
from allauth.account.internal.flows.email_verification_by_code import EMAIL_VERIFICATION_CODE_SESSION_KEY
from allauth.account.models import EmailConfirmationHMAC
from allauth.account.views import ConfirmEmailVerificationCodeView
from allauth.core.internal import ratelimit
from allauth.core.ratelimit import respond_429
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

EXPIRED_MESSAGE = (
    "That code has expired (codes last 15 minutes). Log in with your email and password, or use the link in the email."
)
TOO_MANY_MESSAGE = (
    "Too many wrong codes: that code no longer works. Log in with your email and password, "
    "or use the link in the email."
)
WRONG_CODE = "That code is not right. Check the email we sent you and type the code again."
CONFIRMED_ELSEWHERE = "Your email address is confirmed. Log in to continue."


class CodeForm(ConfirmEmailVerificationCodeForm):
    """allauth's code form, labelled like the rest of the site; the code is not case-sensitive (allauth)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["code"]
        field.label = "Verification code"
        field.widget.attrs.update(
            {
                "placeholder": "e.g. BCDF-GHJK",
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "inputmode": "text",
                "maxlength": "12",
            }
        )


class CodeView(ConfirmEmailVerificationCodeView):
    """/accounts/confirm-email/: the code page after signup (and after "send me a new code")."""

    template_name = "account/confirm_email_verification_code.html"

    def dispatch(self, request, *args, **kwargs):
        state = request.session.get(EMAIL_VERIFICATION_CODE_SESSION_KEY)
        expired = bool(state) and time.time() - state["at"] > account_settings.EMAIL_VERIFICATION_BY_CODE_TIMEOUT
        if request.method == "POST" and not ratelimit.consume(
            request, app="allauth.account", action="verify_email_code"
        ):
            return respond_429(request)
        if request.method == "POST" and request.POST.get("action") == "cancel":
            return self._cancel(request)
        response = super().dispatch(request, *args, **kwargs)
        if expired:
            messages.error(request, EXPIRED_MESSAGE)
        return response

    def _cancel(self, request):
        """ "Log in with your password instead": forget the pending signup login and its code (else allauth
        sends every login and signup page back here). The same for a new and a taken email."""
        from allauth.account.internal.flows.email_verification_by_code import EmailVerificationProcess
        from allauth.account.internal.stagekit import clear_login

        process = EmailVerificationProcess.resume(request)
        if process is not None:
            process.abort()
        else:
            clear_login(request)
        return HttpResponseRedirect(reverse("account_signup"))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        state = self._process.state
        ctx["attempts_left"] = self._process.max_attempts - state["failed_attempts"]
        ctx["timeout_minutes"] = account_settings.EMAIL_VERIFICATION_BY_CODE_TIMEOUT // 60
        ctx["resends_left"] = account_settings.EMAIL_VERIFICATION_MAX_RESEND_COUNT - state["resend_count"]
        return ctx

    def _verify_form_valid(self, form):
        process = self._process
        address = process.email_address if process.user else None
        if self.stage and address is not None and address.verified and process.user.pk == address.user_id:
            # The link was opened on another device first: the right code still finishes this login.
            self.request.session.pop(EMAIL_VERIFICATION_CODE_SESSION_KEY, None)
            return self.stage.exit()
        return super()._verify_form_valid(form)

    def _verify_form_invalid(self, form):
        if self._process.record_invalid_attempt():
            return self.render_to_response(self.get_context_data(form=form))
        messages.error(self.request, TOO_MANY_MESSAGE)
        return HttpResponseRedirect(reverse("account_login"))

    def _resend_form_valid(self, form):
        process = self._process
        response = super()._resend_form_valid(form)
        if "user_id" not in process.state and process.did_send:
            # allauth skips the mail for a taken address on resend; a new address gets one. Mail the owner
            # again (the same "you already have an account" text) so both answers cost one email task.
            get_adapter().send_account_already_exists_mail(process.email)
        return response


class ConfirmLinkView(View):
    """/accounts/confirm-email/<key>/: the link in the email. GET shows a button, POST confirms (mail scanners
    open links with GET). In the signup browser it signs in like the code; elsewhere it asks to log in."""

    template_name = "account/email_confirm.html"

    def get(self, request, key):
        confirmation = EmailConfirmationHMAC.from_key(key)
        status = HTTPStatus.OK if confirmation else HTTPStatus.NOT_FOUND
        return render(request, self.template_name, {"confirmation": confirmation}, status=status)

    def post(self, request, key):
        confirmation = EmailConfirmationHMAC.from_key(key)
        if confirmation is None:
            return render(request, self.template_name, {"confirmation": None}, status=HTTPStatus.NOT_FOUND)
        user = request.user
        if user.is_authenticated and user.pk != confirmation.email_address.user_id:
            logout(request)  # someone else's link opened while logged in: do not mix the two accounts
        address, response = verify_email_and_resume(request, confirmation)
        if response is not None:
            request.session.pop(EMAIL_VERIFICATION_CODE_SESSION_KEY, None)
            return response
        if request.user.is_authenticated:
            return redirect("dashboard")
        if address is not None:
            # verify_email queued allauth's "you have confirmed" message; say what to do next instead.
            list(messages.get_messages(request))
            messages.success(request, CONFIRMED_ELSEWHERE)
        return redirect("account_login")


code_view = CodeView.as_view()
confirm_link = ConfirmLinkView.as_view()
