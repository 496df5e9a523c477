"""Coaches in the operator console: vetting (verify/unverify) and exchange rates, through coaches.services."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from core.console import ConsoleAdmin, apply_to_each, changelist_link, join_links, money
from core.exceptions import DomainError
from core.http import client_ip

from . import services
from .models import CoachProfile, CoachService, DirectoryOffer, ExchangeRate, Language


class CoachServiceInline(admin.TabularInline):
    model = CoachService
    extra = 0
    can_delete = False
    fields = ("service_type", "price", "delivery_days", "revisions_included", "is_active")
    readonly_fields = fields

    @admin.display(description="price")
    def price(self, obj):
        return money(obj.price_minor, obj.currency)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CoachProfile)
class CoachProfileAdmin(ConsoleAdmin):
    list_display = (
        "coach",
        "email",
        "is_verified",
        "is_available",
        "rating_avg",
        "ratings_count",
        "response_time_hours",
        "active_services",
        "account_status",
        "created_at",
        "links",
    )
    list_filter = ("is_verified", "is_available", "user__account_status", "services__service_type", "languages")
    search_fields = ("user__email", "user__first_name", "user__last_name", "headline")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = (
        "user",
        "headline",
        "bio",
        "years_experience",
        "languages",
        "portfolio_links",
        "is_available",
        "is_verified",
        "rating_avg",
        "ratings_count",
        "response_time_hours",
        "created_at",
        "updated_at",
        "links",
    )
    inlines = (CoachServiceInline,)
    actions = ("verify", "unverify")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(active_service_count=Count("services", filter=Q(services__is_active=True), distinct=True))
        )

    @admin.display(description="coach", ordering="user__last_name")
    def coach(self, obj):
        return obj.user.get_full_name() or obj.user.email

    @admin.display(description="email", ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(description="account", ordering="user__account_status")
    def account_status(self, obj):
        return obj.user.get_account_status_display()

    @admin.display(description="services", ordering="active_service_count")
    def active_services(self, obj):
        return obj.active_service_count

    @admin.display(description="quick links")
    def links(self, obj):
        return join_links(
            changelist_link("orders.order", "orders", coach__id__exact=obj.user_id),
            changelist_link("orders.review", "reviews", coach__id__exact=obj.pk),
        )

    def _set_verified(self, request, queryset, verified: bool):
        ip = client_ip(request)
        apply_to_each(
            self,
            request,
            queryset,
            lambda profile: services.set_verified(profile, actor=request.user, verified=verified, ip_address=ip),
            done=(
                ("Verified {count} coach.", "Verified {count} coaches.")
                if verified
                else ("Removed verification from {count} coach.", "Removed verification from {count} coaches.")
            ),
        )

    @admin.action(description="Verify selected coaches", permissions=["moderate"])
    def verify(self, request, queryset):
        self._set_verified(request, queryset, True)

    @admin.action(description="Remove verification from selected coaches", permissions=["moderate"])
    def unverify(self, request, queryset):
        self._set_verified(request, queryset, False)


@admin.register(CoachService)
class CoachServiceAdmin(ConsoleAdmin):
    list_display = ("coach", "service_type", "price", "delivery_days", "revisions_included", "is_active", "updated_at")
    list_filter = ("service_type", "is_active", "currency")
    search_fields = ("coach__user__email", "coach__user__first_name", "coach__user__last_name")
    list_select_related = ("coach__user",)
    readonly_fields = (
        "coach",
        "service_type",
        "price_minor",
        "currency",
        "delivery_days",
        "revisions_included",
        "is_active",
    )

    @admin.display(description="price", ordering="price_minor")
    def price(self, obj):
        return money(obj.price_minor, obj.currency)


@admin.register(DirectoryOffer)
class DirectoryOfferAdmin(ConsoleAdmin):
    """Read-only: what the directory's "service in a language, by price" search reads (derived from the
    listing, the services and the languages; coaches.services.refresh_offers), to see why a coach shows."""

    list_display = ("coach", "service_type", "language", "price_base_minor")
    list_filter = ("service_type", "language")
    search_fields = ("coach__user__email", "coach__user__first_name", "coach__user__last_name")
    list_select_related = ("coach__user", "language")
    readonly_fields = ("coach", "service_type", "language", "price_base_minor")


@admin.register(Language)
class LanguageAdmin(ConsoleAdmin):
    staff_can_add = staff_can_change = staff_can_delete = True
    list_display = ("name", "code", "coach_count")
    search_fields = ("name", "code")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(coach_count=Count("coaches"))

    @admin.display(description="coaches", ordering="coach_count")
    def coach_count(self, obj):
        return obj.coach_count


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ("currency", "units_per_base", "as_of")
        labels = {"units_per_base": "Units per 1 base-currency unit", "as_of": "Rate date"}

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        data = super().clean()
        currency = data.get("currency") or getattr(self.instance, "currency", "")
        if currency and data.get("units_per_base") is not None and data.get("as_of"):
            try:
                services.check_exchange_rate(currency, data["units_per_base"], data["as_of"])
            except DomainError as error:
                raise ValidationError(error.message) from error
        return data


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ConsoleAdmin):
    """What the directory converts prices with. Saving re-converts every price in that currency at once
    (coaches.services.set_exchange_rate, audited); removing one shows those prices in their own money only."""

    staff_can_add = staff_can_change = staff_can_delete = True
    form = ExchangeRateForm
    list_display = ("currency", "rate", "as_of", "priced_services", "updated_at")
    ordering = ("currency",)

    def get_readonly_fields(self, request, obj=None):
        return ("currency",) if obj is not None else ()

    @admin.display(description="rate")
    def rate(self, obj):
        return f"1 {settings.DEFAULT_CURRENCY} = {obj.units_per_base.normalize():f} {obj.currency}"

    @admin.display(description="active services priced in it")
    def priced_services(self, obj):
        return CoachService.objects.filter(currency=obj.currency, is_active=True).count()

    def save_model(self, request, obj, form, change):
        saved = services.set_exchange_rate(  # the form ran services.check_exchange_rate already
            obj.currency,
            actor=request.user,
            units_per_base=obj.units_per_base,
            as_of=obj.as_of,
            ip_address=client_ip(request),
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.remove_exchange_rate(obj, actor=request.user, ip_address=client_ip(request))

    def delete_queryset(self, request, queryset):
        for rate in queryset:
            self.delete_model(request, rate)
