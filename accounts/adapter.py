from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.shortcuts import redirect

from .models import AccountStatus

SUSPENDED_MESSAGE = "This account is suspended. Contact support if you think this is a mistake."


class AccountAdapter(DefaultAccountAdapter):
    """allauth hooks: suspended accounts may not log in, by any route (password, reset, email link)."""

    def pre_login(self, request, user, **kwargs):
        if user.account_status == AccountStatus.SUSPENDED:
            from allauth.account.internal.stagekit import clear_login

            # The password was right, so saying why is no leak; forget the half-finished login.
            clear_login(request)
            messages.error(request, SUSPENDED_MESSAGE)
            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)
