"""The API's `verified_email_required`: placing a request or paying needs a confirmed email (DESIGN §6)."""

from rest_framework.permissions import BasePermission

from accounts.access import VERIFY_EMAIL_MESSAGE


class VerifiedEmail(BasePermission):
    message = VERIFY_EMAIL_MESSAGE

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_verified_email)
