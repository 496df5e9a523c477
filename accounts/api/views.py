"""auth/* and users/me: the page flows of allauth and accounts.services, answered as JSON.

Login, signup and password reset go through allauth's own forms, so the lockout (login_failed per email),
the per-IP limits and the enumeration-proof answers are the very ones the pages apply.
"""

from __future__ import annotations

import contextlib

from allauth.account.forms import LoginForm, ResetPasswordForm, ResetPasswordKeyForm, UserTokenForm
from allauth.account.internal.flows.password_reset import finalize_password_reset
from allauth.account.models import EmailConfirmationHMAC
from allauth.core import ratelimit
from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.middleware.csrf import get_token
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.adapter import LOCKED_MESSAGE, SUSPENDED_MESSAGE
from accounts.forms import ProfileForm
from accounts.signup import SignupForm, register
from core.api import form_errors, takes
from core.http import client_ip

from . import serializers as s
from .tokens import token_pair

CHECK_INBOX = "Check your inbox: we sent you an email to finish signing up."
RESET_SENT = "If an account uses this email, we sent it a link to choose a new password."
EMAIL_CONFIRMED = "Your email address is confirmed."
PASSWORD_CHANGED = "Your password was changed. Log in with the new one."
LOCKOUT_SECONDS = 15 * 60
# allauth's forms ask for the password twice; the API takes it once and names their errors after it.
ONE_PASSWORD = {"password1": "password", "password2": "password"}


def _answer(detail: str) -> OpenApiResponse:
    """A `{"detail": …}` answer, documented with the sentence it says."""
    return OpenApiResponse(s.DetailSerializer, examples=[OpenApiExample("Answer", value={"detail": detail})])


@extend_schema(auth=[])  # the document says so for every subclass's operations
class PublicAuthView(APIView):
    """No authentication runs (a stale cookie must not block logging in again); failures still say 401."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


def _limit(request, action: str, key: str | None = None) -> None:
    if not ratelimit.consume(request._request, action=action, key=key):
        raise exceptions.Throttled(wait=60)


def _token_response(request, user, refresh: str, *, cookie: bool) -> Response:
    pair = token_pair(user, refresh)
    if not cookie:
        return Response(pair)
    response = Response({"token_type": "cookie", "expires_in": pair["expires_in"]})
    options = {"httponly": True, "secure": settings.API_COOKIE_SECURE, "samesite": "Strict"}
    response.set_cookie(settings.API_ACCESS_COOKIE, pair["access"], max_age=pair["expires_in"], path="/api/", **options)
    response.set_cookie(
        settings.API_REFRESH_COOKIE,
        refresh,
        max_age=settings.API_REFRESH_TOKEN_DAYS * 86400,
        path="/api/v1/auth/",
        **options,
    )
    get_token(request._request)  # the CSRF cookie the browser client echoes on unsafe calls
    return response


def _clear_cookies(response: Response) -> Response:
    response.delete_cookie(settings.API_ACCESS_COOKIE, path="/api/")
    response.delete_cookie(settings.API_REFRESH_COOKIE, path="/api/v1/auth/")
    return response


class RegisterView(PublicAuthView):
    @takes(
        s.RegisterSerializer,
        summary="Sign up as a client or a coach",
        description="Answers 202 alike for a new and a registered email (the owner is mailed instead).",
        responses={202: _answer(CHECK_INBOX)},
    )
    def post(self, request, data):
        _limit(request, "signup")
        form = SignupForm(
            data={
                "email": data["email"],
                **dict.fromkeys(ONE_PASSWORD, data["password"]),
                "first_name": data["first_name"],
                "last_name": data["last_name"],
                "role": data["role"],
            }
        )
        if not form.is_valid():
            raise form_errors(form, ONE_PASSWORD)
        with contextlib.suppress(ImmediateHttpResponse):  # a page redirect; the API answers alike
            register(request._request, form)
        return Response({"detail": CHECK_INBOX}, status=status.HTTP_202_ACCEPTED)


class LoginView(PublicAuthView):
    @takes(
        s.LoginSerializer,
        summary="Log in with email and password",
        description="Returns an access and a refresh token, or sets them as HTTP-only cookies (`cookie: true`). "
        "Five failed attempts per email lock it for 15 minutes (429 with Retry-After).",
        responses={200: s.TokenPairSerializer},
    )
    def post(self, request, data):
        _limit(request, "login")
        form = LoginForm(data={"login": data["email"], "password": data["password"]}, request=request._request)
        if not form.is_valid():
            if form.has_error(NON_FIELD_ERRORS, "too_many_login_attempts"):
                raise exceptions.Throttled(wait=LOCKOUT_SECONDS, detail=LOCKED_MESSAGE)
            raise exceptions.AuthenticationFailed(form.non_field_errors()[0], code="invalid_credentials")
        user = form.user
        if user.is_suspended:  # the password was right, so saying why reveals nothing
            raise exceptions.PermissionDenied(SUSPENDED_MESSAGE)
        refresh = services.issue_refresh_token(user, ip_address=client_ip(request))
        return _token_response(request, user, refresh, cookie=data["cookie"])


def _presented_refresh(request, data: dict) -> tuple[str, bool]:
    """The refresh token from the body, or else from the cookie (then the answer is in cookie mode too)."""
    if data.get("refresh"):
        return data["refresh"], False
    cookie = request.COOKIES.get(settings.API_REFRESH_COOKIE, "")
    if not cookie:
        raise exceptions.ValidationError({"refresh": ["This field is required."]})
    return cookie, True


class RefreshView(PublicAuthView):
    @takes(
        s.RefreshSerializer,
        summary="Exchange a refresh token for a new pair",
        description="The refresh token is used up. Presenting a used one again revokes every refresh token of "
        "the account and ends its access tokens (401).",
        responses={200: s.TokenPairSerializer},
    )
    def post(self, request, data):
        raw, cookie = _presented_refresh(request, data)
        user, refresh = services.rotate_refresh_token(raw, ip_address=client_ip(request))
        return _token_response(request, user, refresh, cookie=cookie)


class LogoutView(PublicAuthView):
    @takes(
        s.LogoutSerializer,
        summary="Log out this device, or everywhere",
        description="Revokes the refresh token's family; `everywhere: true` also ends every access token and "
        "browser session of the account.",
        responses={204: None},
    )
    def post(self, request, data):
        raw, _ = _presented_refresh(request, data)
        user = services.owner_of_refresh_token(raw)
        if user is None:
            raise exceptions.AuthenticationFailed(services.REFUSED_MESSAGE, code="token_not_valid")
        if data["everywhere"]:
            services.log_out_everywhere(user, actor=user, ip_address=client_ip(request))
        else:
            services.revoke_refresh_family(raw, actor=user)
        return _clear_cookies(Response(status=status.HTTP_204_NO_CONTENT))


class VerifyEmailView(PublicAuthView):
    @takes(
        s.KeySerializer,
        summary="Confirm an email address with the key from the link",
        responses={200: _answer(EMAIL_CONFIRMED)},
    )
    def post(self, request, data):
        key = data["key"]
        confirmation = EmailConfirmationHMAC.from_key(key)  # the link's key; codes are for the signup browser
        if confirmation is None or not confirmation.confirm(request._request):
            raise exceptions.ValidationError({"key": ["This link is invalid or has expired."]})
        return Response({"detail": EMAIL_CONFIRMED})


class ForgotPasswordView(PublicAuthView):
    @takes(
        s.EmailSerializer,
        summary="Ask for a password reset link",
        description="Answers 202 alike whether or not an account uses the email.",
        responses={202: _answer(RESET_SENT)},
    )
    def post(self, request, data):
        email = data["email"]
        form = ResetPasswordForm(data={"email": email})
        if not form.is_valid():
            raise form_errors(form)
        _limit(request, "reset_password", key=email.lower())
        form.save(request._request)
        return Response({"detail": RESET_SENT}, status=status.HTTP_202_ACCEPTED)


class ResetPasswordView(PublicAuthView):
    @takes(
        s.ResetPasswordSerializer,
        summary="Choose a new password with the key from the reset link",
        description="Ends every API token issued before (token_version).",
        responses={200: _answer(PASSWORD_CHANGED)},
    )
    def post(self, request, data):
        _limit(request, "reset_password_from_key")
        uidb36, _, key = data["key"].partition("-")
        token_form = UserTokenForm(data={"uidb36": uidb36, "key": key})
        if not token_form.is_valid():
            raise exceptions.ValidationError({"key": ["This link is invalid or has expired."]})
        user = token_form.reset_user
        form = ResetPasswordKeyForm(data=dict.fromkeys(ONE_PASSWORD, data["password"]), user=user)
        if not form.is_valid():
            raise form_errors(form, ONE_PASSWORD)
        form.save()
        finalize_password_reset(request._request, user)
        return Response({"detail": PASSWORD_CHANGED})


class MeView(APIView):
    @extend_schema(summary="Who I am", responses={200: s.MeSerializer})
    def get(self, request):
        return Response(s.MeSerializer(request.user).data)

    @takes(s.MeUpdateSerializer, summary="Change my names or phone", responses={200: s.MeSerializer})
    def patch(self, request, changes):
        user = request.user
        current = {"first_name": user.first_name, "last_name": user.last_name, "phone": user.phone}
        form = ProfileForm(data={**current, **changes}, instance=user)
        if not form.is_valid():
            raise form_errors(form)
        services.update_profile(user, actor=user, changes=form.cleaned_data)
        return Response(s.MeSerializer(user).data)
