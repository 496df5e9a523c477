"""Role checks for views: anonymous → login, wrong role → 403 page."""

from functools import wraps

from django.contrib.auth.mixins import AccessMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def _allowed(user, roles) -> bool:
    return user.is_authenticated and (user.role in roles or (user.is_staff and "admin" in roles))


def role_required(*roles: str):
    """Decorator: only users with one of `roles` ("client", "coach", "admin") may call the view."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not _allowed(request.user, roles):
                raise PermissionDenied("This page is for {} accounts.".format(" or ".join(roles)))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RoleRequiredMixin(AccessMixin):
    allowed_roles: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not _allowed(request.user, self.allowed_roles):
            raise PermissionDenied("This page is for {} accounts.".format(" or ".join(self.allowed_roles)))
        return super().dispatch(request, *args, **kwargs)


VERIFY_EMAIL_MESSAGE = "Please confirm your email address first: we sent you a link when you signed up."


def verified_email_required(view):
    """Decorator: the user must be logged in and have confirmed their email (placing requests, paying).

    Anonymous → login page. Unconfirmed → a page that explains why and resends the link
    (JSON callers get a 403 with the same message). Works on function views; wrap class views'
    as_view() output or use VerifiedEmailRequiredMixin.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.has_verified_email:
            return _verify_first(request)
        return view(request, *args, **kwargs)

    return wrapped


class VerifiedEmailRequiredMixin(AccessMixin):
    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_verified_email:
            return _verify_first(request)
        return super().dispatch(request, *args, **kwargs)


def _verify_first(request):
    from django.http import JsonResponse
    from django.shortcuts import redirect
    from django.urls import reverse
    from django.utils.http import urlencode

    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"error": VERIFY_EMAIL_MESSAGE}, status=403)
    # After a POST the form data is gone anyway; send them back to the page they came from.
    back = request.get_full_path() if request.method == "GET" else request.headers.get("Referer", "")
    url = reverse("accounts:verify_email_needed")
    return redirect(f"{url}?{urlencode({'next': back})}" if back else url)
