from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages

from .models import AccountStatus


class AccountAdapter(DefaultAccountAdapter):
    """Suspended accounts may not log in; the message says why without revealing anything else."""

    def pre_login(self, request, user, **kwargs):
        if user.account_status == AccountStatus.SUSPENDED:
            messages.error(request, "This account is suspended. Contact support if you think this is a mistake.")
            from django.shortcuts import redirect

            return redirect("account_login")
        return super().pre_login(request, user, **kwargs)
