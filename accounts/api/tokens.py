"""Access tokens: short JWTs whose claims say who, which role, and which token_version they belong to."""

from __future__ import annotations

from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User


def access_token_for(user: User) -> str:
    token = AccessToken()
    token["sub"] = str(user.pk)  # JWT requires a string subject
    token["role"] = user.role
    token["email_verified"] = user.has_verified_email
    token["token_version"] = user.token_version
    return str(token)


def token_pair(user: User, refresh: str) -> dict:
    return {
        "access": access_token_for(user),
        "refresh": refresh,
        "token_type": "Bearer",
        "expires_in": settings.API_ACCESS_TOKEN_MINUTES * 60,
    }
