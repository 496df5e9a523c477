"""Signup that never reveals whether an email is registered (DESIGN §7).

Kept apart from accounts.forms: allauth builds its SignupForm on top of accounts.forms.RoleSignupForm
(ACCOUNT_SIGNUP_FORM_CLASS), so importing allauth's forms from there would be circular.
"""

from allauth.account.app_settings import EmailVerificationMethod
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.internal.flows.login import perform_login
from allauth.account.internal.flows.signup import complete_signup
from allauth.account.internal.userkit import filter_users_by_email
from allauth.account.models import Login
from allauth.account.views import SignupView as AllauthSignupView
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.contrib.auth.hashers import make_password


class SignupForm(AllauthSignupForm):
    """allauth's signup form (email, passwords + RoleSignupForm's names and role) that never says "taken".

    With mandatory verification (our setting) allauth flags a taken address itself; with optional it
    answers "already registered" (allauth.account.internal.flows.manage_email.assess_unique_email), so
    this keeps the rule whatever the setting. Here a taken address
    is only flagged, and SignupView mails its owner instead of creating a second account.
    """

    def validate_unique_email(self, value):
        try:
            return super().validate_unique_email(value)
        except forms.ValidationError:
            if not filter_users_by_email(value):
                raise  # some other rule refused the address: show it
            self.account_already_exists = True
            return value


class SignupView(AllauthSignupView):
    """Every valid signup ends on "check your inbox", new email or registered one alike.

    Both end on the code page (accounts.verification): a new user types the emailed code and is signed
    in; a registered email gets a page that looks the same, whose codes never match (its owner is mailed
    "you already have an account" instead). Nobody is signed in before a code, so the answers agree.
    """

    def get_initial(self):
        initial = super().get_initial()
        if self.request.GET.get("role") in ("client", "coach"):  # "Become a coach" links preselect it
            initial["role"] = self.request.GET["role"]
        return initial

    def form_valid(self, form):
        try:
            return register(self.request, form, redirect_url=self.get_success_url())
        except ImmediateHttpResponse as exc:
            return exc.response


def register(request, form: SignupForm, *, redirect_url: str | None = None):
    """Finish a valid signup the same way for the page and the API: a new email gets an account and a
    confirmation link, a registered one gets allauth's "you already have an account" mail. Nobody is
    logged in either way, so the two answers cannot be told apart."""
    if getattr(form, "account_already_exists", False):
        # Hash the typed password as a new account would (its cost dominates a signup's time), so the
        # answer takes as long; the email goes through the same task (AccountAdapter.send_mail).
        make_password(form.cleaned_data["password1"])
        login = Login(
            user=None,
            email=form.cleaned_data["email"],
            signup=True,
            email_verification=EmailVerificationMethod.MANDATORY,
        )
        return perform_login(request, login)
    user = form.save(request)
    return complete_signup(
        request,
        user=user,
        email_verification=EmailVerificationMethod.MANDATORY,
        redirect_url=redirect_url,
    )


signup = SignupView.as_view()
