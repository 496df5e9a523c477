from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

from .models import AccountStatus


class SuspendedUserMiddleware:
    """A suspended user's open sessions stop working at their next request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.account_status == AccountStatus.SUSPENDED:
            logout(request)
            messages.error(request, "This account is suspended. Contact support if you think this is a mistake.")
            return redirect("account_login")
        return self.get_response(request)
