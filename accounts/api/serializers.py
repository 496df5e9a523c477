"""What the auth/* and users/me endpoints accept and answer."""

from __future__ import annotations

from rest_framework import serializers

from accounts.forms import SIGNUP_ROLES
from accounts.models import User
from core.api import StrictSerializer


class RegisterSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=[value for value, _ in SIGNUP_ROLES])


class LoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True)
    cookie = serializers.BooleanField(
        default=False, help_text="Set both tokens as HTTP-only cookies instead of returning them (browsers)."
    )


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(
        max_length=200, required=False, help_text="Omit in cookie mode: the refresh cookie is used."
    )


class LogoutSerializer(RefreshSerializer):
    everywhere = serializers.BooleanField(
        default=False, help_text="End every token and browser session of the account, not only this one."
    )


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    refresh = serializers.CharField(required=False, help_text="Absent in cookie mode.")
    token_type = serializers.ChoiceField(choices=["Bearer", "cookie"])
    expires_in = serializers.IntegerField(help_text="Seconds the access token is valid.")


class KeySerializer(StrictSerializer):
    key = serializers.CharField(max_length=300, help_text="The key from the link in the email.")


class EmailSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class ResetPasswordSerializer(KeySerializer):
    password = serializers.CharField(max_length=128, write_only=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class MeSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(source="has_verified_email", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "phone", "role", "account_status", "email_verified"]
        read_only_fields = ["id", "email", "role", "account_status"]


class MeUpdateSerializer(StrictSerializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
