from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from . import services
from .forms import ProfileForm


@login_required
def profile(request):
    """Names and phone; the email itself is managed on allauth's email page (it re-verifies)."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(request.user, actor=request.user, changes=form.cleaned_data)
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def verify_email_needed(request):
    """Where verified_email_required sends an unconfirmed user: why, and a button for a new code.

    POST mails a code (and a link for another device) and opens the code page, creating the address row
    for accounts made outside signup (e.g. `createsuperuser`). allauth's per-address rate limit applies:
    within it the earlier code still works, so the code page opens with a note instead of a 429.
    """
    from allauth.account.internal.flows.email_verification import send_verification_email_to_address
    from allauth.account.internal.flows.email_verification_by_code import EMAIL_VERIFICATION_CODE_SESSION_KEY
    from allauth.account.models import EmailAddress
    from allauth.core.exceptions import ImmediateHttpResponse
    from django.utils.http import url_has_allowed_host_and_scheme

    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.user.has_verified_email:
        return redirect(next_url or "dashboard")
    if request.method == "POST":
        address = EmailAddress.objects.filter(user=request.user, email__iexact=request.user.email).first()
        if address is None:
            address = EmailAddress.objects.create(
                user=request.user,
                email=request.user.email,
                primary=not EmailAddress.objects.filter(user=request.user, primary=True).exists(),
                verified=False,
            )
        try:
            send_verification_email_to_address(request, address)
        except ImmediateHttpResponse as exc:  # rate limited
            if EMAIL_VERIFICATION_CODE_SESSION_KEY not in request.session:
                return exc.response
            messages.info(request, "We sent you a code a moment ago: check your inbox. You can ask again soon.")
        target = reverse("account_email_verification_sent")
        return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    return render(request, "accounts/verify_email_needed.html", {"next_url": next_url})
