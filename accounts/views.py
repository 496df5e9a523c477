from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .forms import ProfileForm


@login_required
def profile(request):
    """Names and phone; the email itself is managed on allauth's email page (it re-verifies)."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def verify_email_needed(request):
    """Where verified_email_required sends an unconfirmed user: why, and a button to resend the link."""
    from django.utils.http import url_has_allowed_host_and_scheme

    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.user.has_verified_email:
        return redirect(next_url or "dashboard")
    return render(request, "accounts/verify_email_needed.html", {"next_url": next_url})
