"""coaches on the REST API: the directory (same filters and rules as the page), a coach, my profile."""

from __future__ import annotations

from django.db.models import F, Prefetch, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictSerializer, examples, form_errors, validated, validated_query
from core.money import minor_to_decimal

from . import api_examples, services
from .directory import (
    MAX_PRICE_MAJOR,
    MAX_QUERY_LENGTH,
    SORTS,
    DirectoryFacts,
    cached_with_directory,
    card_price,
    digest,
    directory_facts,
    parse_filters,
    search,
)
from .forms import ProfileForm, ServiceForm
from .models import CoachProfile, CoachService, Language, ServiceType

# Cursor orderings per directory sort: the same order as coaches.directory.search, spelled as fields
# the cursor can read back from a row (NULL response times sort last through a sentinel).
NO_RESPONSE_TIME = 10.0**9
NO_BASE_PRICE = 2**62  # prices in a currency without an exchange rate sort after every other price
CACHED_QUERY_LENGTH = 400  # longer query strings are answered but not stored (they are not a browsing pattern)
CURSOR_ORDERINGS = {
    "rating": ("-rating_score", "-ratings_count", "id"),
    "price": ("sort_price", "id"),
    "response_time": ("sort_response", "id"),
    "newest": ("-created_at", "-id"),
}


class ServiceSerializer(serializers.ModelSerializer):
    price = serializers.SerializerMethodField(help_text="Decimal string in the currency's major unit.")

    class Meta:
        model = CoachService
        fields = ["service_type", "price_minor", "price", "currency", "delivery_days", "revisions_included"]

    def get_price(self, service: CoachService) -> str:
        return str(minor_to_decimal(service.price_minor, service.currency))


class PriceFromSerializer(serializers.Serializer):
    own = serializers.CharField(help_text="The coach's price in their own currency, e.g. “€90.00”.")
    converted = serializers.CharField(
        help_text="In the `currency` asked for (else the base currency) at the staff-set rate, e.g. “£77.00”; "
        "empty when it is the coach's own currency or that currency has no exchange rate."
    )
    unrated = serializers.CharField(help_text="The coach's currency when it has no exchange rate, else empty.")


@examples(api_examples.COACH_EXAMPLES)
class CoachSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="user.display_name", read_only=True)
    languages = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    services = ServiceSerializer(source="active_services", many=True, read_only=True)
    price_from = serializers.SerializerMethodField(help_text="The cheapest (or chosen) service, as a card shows it.")

    @extend_schema_field(PriceFromSerializer(allow_null=True))
    def get_price_from(self, profile: CoachProfile) -> dict | None:
        facts: DirectoryFacts = self.context.get("facts") or directory_facts()
        offered = profile.active_services  # type: ignore[attr-defined]  # _with_cards' Prefetch(to_attr=...)
        price = card_price(offered, self.context.get("service", ""), self.context.get("currency", ""), facts)
        if not price:
            return None
        return {"own": price.own, "converted": price.converted, "unrated": price.unrated}

    class Meta:
        model = CoachProfile
        fields = [
            "id",
            "user_id",
            "name",
            "headline",
            "years_experience",
            "languages",
            "is_available",
            "is_verified",
            "rating_avg",
            "ratings_count",
            "response_time_hours",
            "services",
            "price_from",
        ]


@examples(api_examples.COACH_DETAIL_EXAMPLES)
class CoachDetailSerializer(CoachSerializer):
    class Meta(CoachSerializer.Meta):
        fields = [*CoachSerializer.Meta.fields, "bio", "portfolio_links"]


def _with_cards(queryset):
    active = CoachService.objects.filter(is_active=True).order_by("price_minor")
    return queryset.select_related("user").prefetch_related(
        Prefetch("services", queryset=active, to_attr="active_services"),
        Prefetch("languages", queryset=Language.objects.order_by("name")),
    )


class DirectoryQuery(StrictSerializer):
    """The directory's filters; unlike the page (which drops bad values with a notice) a bad one is a 400."""

    q = serializers.CharField(required=False, max_length=MAX_QUERY_LENGTH)
    service = serializers.ChoiceField(choices=ServiceType.choices, required=False)
    min_price = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, max_value=MAX_PRICE_MAJOR, required=False
    )
    max_price = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, max_value=MAX_PRICE_MAJOR, required=False
    )
    currency = serializers.ChoiceField(
        choices=services.CURRENCIES,
        required=False,
        help_text="The currency min_price and max_price are in, and prices are compared and converted into "
        "(like the page's picker): the base currency or one with an exchange rate. Default: the base currency.",
    )
    min_rating = serializers.DecimalField(max_digits=3, decimal_places=2, min_value=0, max_value=5, required=False)
    language = serializers.SlugField(required=False, max_length=8)
    available = serializers.BooleanField(required=False, default=False)
    verified = serializers.BooleanField(required=False, default=False)
    sort = serializers.ChoiceField(choices=list(SORTS), required=False, default="rating")
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1)


class CoachList(generics.ListAPIView):
    """GET coaches: anyone may browse, like the directory page."""

    serializer_class = CoachSerializer
    permission_classes = (AllowAny,)

    @extend_schema(summary="Browse the coach directory", parameters=[DirectoryQuery], auth=[])
    def get(self, request, *args, **kwargs):
        # One page of coaches, reused while the directory version holds (the page's own invalidation:
        # every profile, service, account, review and rate change bumps it). The body depends only on the
        # query and the host its cursor links point at, never on who asks. Bad filters raise before anything
        # is stored, so only answers are cached; a currency whose rate went away bumps the version first.
        # (A comment, not a docstring: the schema would publish a docstring as the operation's description.)
        query = request.META.get("QUERY_STRING", "")
        if len(query) > CACHED_QUERY_LENGTH:
            return super().get(request, *args, **kwargs)
        key = "coaches:api:list:" + digest(f"{request.scheme}://{request.get_host()}|{query}")
        return Response(cached_with_directory(key, lambda: super(CoachList, self).get(request, *args, **kwargs).data))

    def get_queryset(self):
        return self._matching(validated_query(DirectoryQuery, self.request))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        filters = getattr(self, "filters", None)
        if filters is not None:
            context.update(facts=self.facts, service=filters.service, currency=filters.currency)
        return context

    def _matching(self, params: dict):
        query = {key: str(value) for key, value in params.items() if key not in ("cursor", "page_size")}
        query["available"] = "1" if params.get("available") else ""
        query["verified"] = "1" if params.get("verified") else ""
        self.facts = facts = directory_facts()
        if params.get("currency") and params["currency"] not in facts.rates:
            raise exceptions.ValidationError(
                {"currency": [f"{params['currency']} has no exchange rate yet: use one of {', '.join(facts.rates)}."]}
            )
        self.filters = filters = parse_filters(query, facts=facts)
        if filters.notices:
            raise exceptions.ValidationError({"language": filters.notices})
        queryset = search(filters, facts)
        price = F("services__price_base_minor") if filters.service else F("price_from_base_minor")
        queryset = queryset.annotate(
            sort_price=Coalesce(price, Value(NO_BASE_PRICE)),
            sort_response=Coalesce("response_time_hours", Value(NO_RESPONSE_TIME)),
        )
        self.cursor_ordering = CURSOR_ORDERINGS[filters.sort]
        return _with_cards(queryset)


def profile_data(profile: CoachProfile) -> dict:
    """A profile as CoachDetailSerializer shows it, loaded fresh with its services and languages."""
    fresh = _with_cards(CoachProfile.objects.filter(pk=profile.pk)).first()
    if fresh is None:
        raise Http404
    return CoachDetailSerializer(fresh).data


class CoachDetail(generics.RetrieveAPIView):
    """GET coaches/{id}: a listed coach's public profile (an unlisted one is a 404, like the page)."""

    serializer_class = CoachDetailSerializer
    permission_classes = (AllowAny,)
    queryset = _with_cards(CoachProfile.objects.listed())

    @extend_schema(summary="A coach's public profile", auth=[])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class OfferSerializer(StrictSerializer):
    service_type = serializers.ChoiceField(choices=ServiceType.choices)
    price = serializers.DecimalField(max_digits=7, decimal_places=2)
    currency = serializers.ChoiceField(choices=services.CURRENCIES)
    delivery_days = serializers.IntegerField()
    revisions_included = serializers.IntegerField()
    is_active = serializers.BooleanField(default=True)


@examples(api_examples.PROFILE_CHANGES)
class ProfileUpdateSerializer(StrictSerializer):
    headline = serializers.CharField(max_length=160, required=False)
    bio = serializers.CharField(max_length=10000, required=False, allow_blank=True)
    years_experience = serializers.IntegerField(required=False)
    languages = serializers.ListField(child=serializers.SlugField(max_length=8), required=False, max_length=50)
    portfolio_links = serializers.ListField(child=serializers.CharField(max_length=300), required=False, max_length=20)
    is_available = serializers.BooleanField(required=False)
    services = OfferSerializer(many=True, required=False, help_text="The full list: services left out are removed.")


class MyProfile(APIView):
    """GET/PATCH coaches/me/profile: the coach's own profile, validated by the page's forms."""

    def _profile(self, request) -> CoachProfile:
        if not getattr(request.user, "is_coach", False):
            raise exceptions.PermissionDenied("This is for coach accounts.")
        return services.get_or_create_profile(request.user)

    @extend_schema(summary="My coach profile", responses={200: CoachDetailSerializer})
    def get(self, request):
        return Response(profile_data(self._profile(request)))

    @extend_schema(
        summary="Change my coach profile and services",
        request=ProfileUpdateSerializer,
        responses={200: CoachDetailSerializer},
    )
    def patch(self, request):
        profile = self._profile(request)
        changes = validated(ProfileUpdateSerializer, request)
        form = ProfileForm(data=self._form_data(profile, changes), instance=profile)
        if not form.is_valid():
            raise form_errors(form)
        offers = None
        if "services" in changes:
            offers = [self._offer(index, offer) for index, offer in enumerate(changes["services"])]
        data = form.cleaned_data
        services.update_profile(
            profile,
            actor=request.user,
            changes={field: data[field] for field in services.PROFILE_FIELDS},
            languages=data["languages"],
            portfolio_links=data["portfolio_links"],
            offers=offers,
        )
        return Response(profile_data(profile))

    @staticmethod
    def _form_data(profile: CoachProfile, changes: dict) -> dict:
        current = {field: getattr(profile, field) for field in services.PROFILE_FIELDS}
        data = {**current, **{k: v for k, v in changes.items() if k in services.PROFILE_FIELDS}}
        codes = changes.get("languages")
        languages = (
            Language.objects.filter(code__in=codes) if codes is not None else profile.languages.all()
        ).values_list("pk", flat=True)
        if codes is not None and len(set(codes)) != len(languages):
            raise exceptions.ValidationError({"languages": ["Unknown language code."]})
        links = changes.get("portfolio_links", profile.portfolio_links or [])
        return {**data, "languages": list(languages), "portfolio_links": "\n".join(links)}

    @staticmethod
    def _offer(index: int, offer: dict) -> services.ServiceOffer:
        form = ServiceForm(data={**offer, "is_active": "on" if offer["is_active"] else ""})
        if not form.is_valid():
            raise exceptions.ValidationError(
                {f"services[{index}].{name}": [str(m) for m in msgs] for name, msgs in form.errors.items()}
            )
        return form.to_offer()


urlpatterns = [
    path("coaches", CoachList.as_view(), name="coaches"),
    path("coaches/me/profile", MyProfile.as_view(), name="coaches-my-profile"),
    path("coaches/<int:pk>", CoachDetail.as_view(), name="coach"),
]
