"""What the auth/* and users/me endpoints accept and answer."""

from __future__ import annotations

from rest_framework import serializers

from accounts.forms import SIGNUP_ROLES
from accounts.models import User
from core.api import StrictSerializer, examples


@examples(
    {
        "A new coach": {
            "email": "amira.haddad@example.org",
            "password": "long-and-unguessable-42",
            "first_name": "Amira",
            "last_name": "Haddad",
            "role": "coach",
        }
    }
)
class RegisterSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=[value for value, _ in SIGNUP_ROLES])


@examples(
    {
        "An app gets tokens": {"email": "sam.client@example.org", "password": "long-and-unguessable-42"},
        "A browser gets cookies": {
            "email": "sam.client@example.org",
            "password": "long-and-unguessable-42",
            "cookie": True,
        },
    }
)
class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True)
    cookie = serializers.BooleanField(
        default=False, help_text="Set both tokens as HTTP-only cookies instead of returning them (browsers)."
    )


@examples(
    {
        "An app": {"refresh": "r1.Qm9vZGxlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ"},
        "A browser sends the refresh cookie": {},
    }
)
class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(
        max_length=200, required=False, help_text="Omit in cookie mode: the refresh cookie is used."
    )


@examples(
    {
        "This device": {"refresh": "r1.Qm9vZGxlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ"},
        "Everywhere": {"refresh": "r1.Qm9vZGxlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ", "everywhere": True},
    }
)
class LogoutSerializer(RefreshSerializer):
    everywhere = serializers.BooleanField(
        default=False, help_text="End every token and browser session of the account, not only this one."
    )


@examples(
    {
        "Bearer tokens": {
            "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInJvbGUiOiJjbGllbnQifQ.c2lnbmF0dXJl",
            "refresh": "r1.Qm9vZGxlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ",
            "token_type": "Bearer",
            "expires_in": 900,
        },
        "Cookie mode": {"token_type": "cookie", "expires_in": 900},
    }
)
class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    token_type = serializers.ChoiceField(choices=["Bearer", "cookie"])
    expires_in = serializers.IntegerField(help_text="Seconds the access token is valid.")


@examples({"The key from the link": {"key": "MTA:1t4Xbc:Zk3c0nfirmati0nKey"}})
class KeySerializer(StrictSerializer):
    key = serializers.CharField(max_length=300, help_text="The key from the link in the email.")


@examples({"Forgot my password": {"email": "sam.client@example.org"}})
class EmailSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


@examples({"A new password": {"key": "2s-c4f1a9e0b7d2", "password": "another-long-passphrase-7"}})
class ResetPasswordSerializer(KeySerializer):
    password = serializers.CharField(max_length=128, write_only=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


@examples(
    {
        "A client": {
            "id": 42,
            "email": "sam.client@example.org",
            "first_name": "Sam",
            "last_name": "Okafor",
            "phone": "+44 20 7946 0958",
            "role": "client",
            "account_status": "active",
            "email_verified": True,
        }
    }
)
class MeSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(source="has_verified_email", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "phone", "role", "account_status", "email_verified"]
        read_only_fields = ["id", "email", "role", "account_status"]


@examples({"A new phone number": {"phone": "+44 20 7946 0000"}, "Names": {"first_name": "Samuel"}})
class MeUpdateSerializer(StrictSerializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
