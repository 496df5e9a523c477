"""allauth's account forms with our sentence-case labels ("Remember me", "New password").

allauth's own labels are title case ("Remember Me", "New Password"), unlike every other label on the
site. Kept apart from accounts.forms for the same reason as accounts.signup: allauth imports that module.
"""

from __future__ import annotations

from typing import Any

from allauth.account import forms as allauth_forms
from django import forms

LABELS = {
    "remember": "Remember me",
    "oldpassword": "Current password",
    "password1": "New password",
    "password2": "New password (again)",
}


def _relabel(form: forms.Form) -> None:
    for name, label in LABELS.items():
        field = form.fields.get(name)
        if field is None:
            continue
        field.label = label
        if "placeholder" in field.widget.attrs:
            field.widget.attrs["placeholder"] = label


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self)


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self)


class SetPasswordForm(allauth_forms.SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self)


class ResetPasswordKeyForm(allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _relabel(self)
