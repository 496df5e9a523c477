"""The coach's profile form and the formset of services they offer."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from core.money import InvalidAmount, minor_to_decimal, to_minor

from .models import CoachProfile, Language, ServiceType
from .services import CURRENCIES, MAX_PORTFOLIO_LINKS, ServiceOffer

_url = URLValidator(schemes=["http", "https"])


class ProfileForm(forms.ModelForm):
    languages = forms.ModelMultipleChoiceField(
        queryset=Language.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The languages you write and coach in.",
    )
    portfolio_links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://www.linkedin.com/in/you"}),
        help_text=f"Up to {MAX_PORTFOLIO_LINKS} links (http or https), one per line: samples, LinkedIn, a website.",
    )
    years_experience = forms.IntegerField(min_value=0, max_value=60, label="Years of experience")

    class Meta:
        model = CoachProfile
        fields = ["headline", "bio", "years_experience", "languages", "portfolio_links", "is_available"]
        labels = {"is_available": "I am taking new work"}
        help_texts = {
            "headline": "One line clients see in the directory, e.g. “Former recruiter, tech and finance CVs”.",
            "bio": "Your background, the industries you know, how you work with clients.",
        }
        widgets = {"bio": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["portfolio_links"] = "\n".join(self.instance.portfolio_links or [])
        self.fields["headline"].required = True
        self.fields["headline"].max_length = 160

    def clean_portfolio_links(self) -> list[str]:
        links = [line.strip() for line in self.cleaned_data["portfolio_links"].splitlines() if line.strip()]
        if len(links) > MAX_PORTFOLIO_LINKS:
            raise ValidationError(f"Add at most {MAX_PORTFOLIO_LINKS} links.")
        bad = []
        for link in links:
            try:
                if len(link) > 300:
                    raise ValidationError("too long")
                _url(link)
            except ValidationError:
                bad.append(link[:60])
        if bad:
            raise ValidationError(
                "These are not web addresses starting with http:// or https://: " + ", ".join(f"“{b}”" for b in bad)
            )
        return list(dict.fromkeys(links))


class ServiceForm(forms.Form):
    service_type = forms.ChoiceField(choices=[("", "Choose a service…"), *ServiceType.choices], label="Service")
    price = forms.DecimalField(
        min_value=Decimal("5.00"),
        max_value=Decimal("10000.00"),
        max_digits=7,
        decimal_places=2,
        help_text="In the currency you choose, e.g. 120.00",
    )
    currency = forms.ChoiceField(choices=[(c, c) for c in CURRENCIES], initial="GBP")
    delivery_days = forms.IntegerField(min_value=1, max_value=60, initial=5, label="Delivery (days)")
    revisions_included = forms.IntegerField(min_value=0, max_value=10, initial=2, label="Revisions included")
    is_active = forms.BooleanField(required=False, initial=True, label="Offered now")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        existing = self.initial.get("service_type")
        self.is_extra = not existing
        self.title = ServiceType(existing).label if existing else "Add a service"
        self.auto_open = False  # set by service_formset on the first empty row of a coach with no services

    @property
    def start_open(self) -> bool:
        """Empty “add a service” rows start folded, unless filled in (and so maybe in error)."""
        return self.auto_open or (self.is_bound and self.has_changed())

    def clean(self):
        data = super().clean()
        if data.get("price") is not None and data.get("currency"):
            try:
                data["price_minor"] = to_minor(data["price"], data["currency"])
            except InvalidAmount as error:
                self.add_error("price", error.message)
        return data

    def to_offer(self) -> ServiceOffer:
        data = self.cleaned_data
        return ServiceOffer(
            service_type=data["service_type"],
            price_minor=data["price_minor"],
            currency=data["currency"],
            delivery_days=data["delivery_days"],
            revisions_included=data["revisions_included"],
            is_active=data["is_active"],
        )


class BaseServiceFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove this service"

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        seen = set()
        for form in self.kept_forms():
            service_type = form.cleaned_data["service_type"]
            if service_type in seen:
                raise ValidationError(f"You listed “{ServiceType(service_type).label}” twice; offer each service once.")
            seen.add(service_type)

    def kept_forms(self):
        """Existing rows and filled-in new rows, minus those ticked for removal."""
        kept = []
        for index, form in enumerate(self.forms):
            is_existing = index < self.initial_form_count()
            if not (is_existing or form.has_changed()) or not form.cleaned_data:
                continue
            if not form.cleaned_data.get("DELETE"):
                kept.append(form)
        return kept

    def offers(self) -> list[ServiceOffer]:
        return [form.to_offer() for form in self.kept_forms()]


def service_initial(profile: CoachProfile) -> list[dict]:
    """One row per existing service, then empty rows for the services not offered yet."""
    return [
        {
            "service_type": s.service_type,
            "price": minor_to_decimal(s.price_minor, s.currency),
            "currency": s.currency,
            "delivery_days": s.delivery_days,
            "revisions_included": s.revisions_included,
            "is_active": s.is_active,
        }
        for s in sorted(profile.services.all(), key=lambda s: ServiceType.values.index(s.service_type))
    ]


def service_formset(profile: CoachProfile, data=None) -> BaseServiceFormSet:
    initial = service_initial(profile)
    formset_class = forms.formset_factory(
        ServiceForm,
        formset=BaseServiceFormSet,
        extra=len(ServiceType.choices) - len(initial),
        can_delete=True,
        max_num=len(ServiceType.choices),
        validate_max=True,
        absolute_max=len(ServiceType.choices),
    )
    formset = formset_class(data=data, initial=initial, prefix="services")
    assert isinstance(formset, BaseServiceFormSet)  # formset_factory(formset=...) subclasses it; stubs say BaseFormSet
    if not initial and formset.forms:
        formset.forms[0].auto_open = True
    return formset
