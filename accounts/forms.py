from django import forms
from django.core.validators import RegexValidator

from .models import Role, User

SIGNUP_ROLES = [(Role.CLIENT, "I'm looking for help with my job application"), (Role.COACH, "I'm a writing coach")]


class RoleSignupForm(forms.Form):
    """Extra fields allauth adds to its signup form. Only client and coach can be chosen."""

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    role = forms.ChoiceField(
        choices=SIGNUP_ROLES, widget=forms.RadioSelect, initial=Role.CLIENT, label="I am joining as"
    )

    def signup(self, request, user):
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = self.cleaned_data["last_name"]
        user.role = self.cleaned_data["role"]
        user.save()


class ProfileForm(forms.ModelForm):
    phone = forms.CharField(
        required=False,
        max_length=32,
        label="Phone (optional)",
        validators=[
            RegexValidator(
                r"^\+?[0-9][0-9 ()\-]{5,30}$",
                "Enter a phone number: digits, spaces, brackets or dashes, optionally starting with +.",
            )
        ],
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone"]
