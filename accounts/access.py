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
