"""How an API caller proves who they are: a Bearer JWT, the same JWT in an HTTP-only cookie, or a session.

Every route refuses a token whose token_version is older than the user's (password change, suspension,
"log out everywhere") and any suspended or deactivated user, so a revoked token is a 401 at once.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError

from accounts.models import User
from accounts.services import may_use_api

INVALID = "The access token is invalid, expired or revoked. Refresh it or log in again."


class BearerAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def get_validated_token(self, raw_token):
        # simplejwt only accepts SIMPLE_JWT["ALGORITHM"] (HS256): "alg: none" and RS/HS confusion fail here.
        from rest_framework_simplejwt.tokens import AccessToken

        try:
            return AccessToken(raw_token)
        except TokenError as exc:
            raise exceptions.AuthenticationFailed(INVALID, code="token_not_valid") from exc

    def get_user(self, validated_token):
        try:
            user = User.objects.get(pk=int(validated_token["sub"]))
        except (KeyError, TypeError, ValueError, User.DoesNotExist) as exc:
            raise exceptions.AuthenticationFailed(INVALID, code="token_not_valid") from exc
        if validated_token.get("token_version") != user.token_version or not may_use_api(user):
            raise exceptions.AuthenticationFailed(INVALID, code="token_not_valid")
        return user


class CookieAuthentication(BearerAuthentication):
    """The browser-client mode: the access JWT in an HTTP-only cookie, so CSRF applies to unsafe methods."""

    def authenticate(self, request):
        raw = request.COOKIES.get(settings.API_ACCESS_COOKIE)
        if not raw:
            return None
        token = self.get_validated_token(raw.encode())
        user = self.get_user(token)
        SessionAuthentication().enforce_csrf(request)
        return user, token


class ApiSessionAuthentication(SessionAuthentication):
    """A logged-in browser session may call the API too (CSRF enforced by DRF on unsafe methods)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and not may_use_api(result[0]):
            return None
        return result
