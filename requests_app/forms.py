import datetime

from django import forms
from django.utils import timezone

from coaches.models import ServiceType
from core.exceptions import DomainError

from . import services


class ServiceRequestForm(forms.Form):
    """A new request: to the given coach's service, or (coach_profile=None) an open request."""

    service_type = forms.ChoiceField(label="Service", choices=ServiceType.choices)
    title = forms.CharField(
        max_length=160,
        help_text="One line, e.g. “CV for senior data analyst roles in finance”.",
    )
    requirements = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        help_text="The role you are aiming for, your background, what you want changed, and anything to avoid.",
    )
    deadline = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day you need the finished work by.",
    )
    job_title = forms.CharField(
        label="Target job title (optional)",
        required=False,
        max_length=160,
        help_text="E.g. “Senior Project Manager at Gamma”.",
    )
    job_description = forms.CharField(
        label="Target job description (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Paste the advert you are applying for: the order's job-match report measures every "
        "version of your document against it.",
    )

    def __init__(self, *args, coach_profile=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.coach_profile = coach_profile
        self.fields["deadline"].widget.attrs["min"] = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
        if coach_profile is not None:
            offered = {s.service_type for s in coach_profile.services.all() if s.is_active}
            self.fields["service_type"].choices = [(v, label) for v, label in ServiceType.choices if v in offered] or [
                ("", "This coach offers no services right now")
            ]
            self.fields["service_type"].error_messages["invalid_choice"] = "This coach does not offer that service."

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if len(title) < 5:
            raise forms.ValidationError("Give your request a title of at least 5 characters.")
        return title

    def clean_requirements(self):
        text = self.cleaned_data["requirements"].strip()
        if len(text) < 20:
            raise forms.ValidationError("Tell the coach a little more (at least 20 characters).")
        return text

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["job_title"], cleaned["job_description"] = services.clean_job_description(
                cleaned.get("job_title", ""), cleaned.get("job_description", "")
            )
        except DomainError as exc:
            self.add_error("job_description", exc.message)
        service_type = cleaned.get("service_type")
        if not service_type:
            return cleaned
        try:
            if self.coach_profile is not None:
                service = services.bookable_service(self.coach_profile, service_type)
                min_days = service.delivery_days
            else:
                min_days = services.open_request_min_days(service_type)
                if min_days is None:
                    raise DomainError("No available coach offers this service right now.")
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc
        deadline = cleaned.get("deadline")
        if deadline is not None:
            try:
                services.check_deadline(deadline, min_days)
            except DomainError as exc:
                self.add_error("deadline", exc.message)
        return cleaned


class RejectForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason (optional, shown to the client)",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
