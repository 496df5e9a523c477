from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect

from .adapter import SUSPENDED_MESSAGE
from .models import AccountStatus


class SuspendedUserMiddleware:
    """A suspended user's open sessions stop working at their next request.

    accounts.services.suspend_user already deletes the sessions it knows about; this catches any other
    (e.g. one opened before session tracking existed, or a suspension written straight to the database).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.account_status == AccountStatus.SUSPENDED:
            logout(request)
            if request.path.startswith("/api/"):
                return self.get_response(request)  # now anonymous: the API answers 401 in its own shape
            messages.error(request, SUSPENDED_MESSAGE)
            return redirect("account_login")
        return self.get_response(request)
