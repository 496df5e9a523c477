"""Staff-only REST endpoints (admin/*): users, suspension, coach verification, the ledger, analytics.

Every change goes through the owning app's service with the staff actor and IP, so it is audited the
same as in the operator console.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import path
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as accounts
from accounts.models import AccountStatus, Role, User
from coaches import services as coaches
from coaches.api import CoachDetailSerializer, profile_data
from coaches.models import CoachProfile
from core.api import StrictSerializer, form_errors, role_permission, takes
from core.http import client_ip
from payments.models import LedgerEntry, LedgerEntryType

from . import analytics
from .forms import AnalyticsFilterForm, analytics_range

StaffOnly = role_permission("admin")


class StaffUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "account_status", "suspended_reason", "created_at"]


class UserFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)
    account_status = filters.ChoiceFilter(choices=AccountStatus.choices)
    email = filters.CharFilter(field_name="email", lookup_expr="icontains", max_length=254)

    class Meta:
        model = User
        fields = ["role", "account_status", "email"]


# A staff-only list narrowed by its django-filter FilterSet (a bad filter value is a 400), cursor-paged.
# (A comment, not a docstring: drf-spectacular would print a docstring as every list's description.)
class StaffList(generics.ListAPIView):
    permission_classes = (StaffOnly,)
    filter_backends = (filters.DjangoFilterBackend,)


@extend_schema_view(get=extend_schema(summary="All accounts (staff), filtered by role, status or email"))
class Users(StaffList):
    serializer_class = StaffUserSerializer
    queryset = User.objects.all()
    filterset_class = UserFilter


class SuspendSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, help_text="Told to the user.")


class SuspendUser(APIView):
    permission_classes = (StaffOnly,)

    @takes(
        SuspendSerializer,
        summary="Suspend an account: its sessions and API tokens end now (staff)",
        responses={200: StaffUserSerializer},
    )
    def patch(self, request, data, pk: int):
        reason = data["reason"]
        user = get_object_or_404(User, pk=pk)
        suspended = accounts.suspend_user(user, actor=request.user, reason=reason, ip_address=client_ip(request))
        return Response(StaffUserSerializer(suspended).data)


class VerifySerializer(StrictSerializer):
    verified = serializers.BooleanField(default=True)


class VerifyCoach(APIView):
    permission_classes = (StaffOnly,)

    @takes(
        VerifySerializer,
        summary="Mark a coach as verified, or take it back (staff)",
        responses={200: CoachDetailSerializer},
    )
    def patch(self, request, data, pk: int):
        verified = data["verified"]
        profile = get_object_or_404(CoachProfile.objects.select_related("user"), pk=pk)
        coaches.set_verified(profile, actor=request.user, verified=verified, ip_address=client_ip(request))
        return Response(profile_data(profile))


class LedgerSerializer(serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "entry_type",
            "order_id",
            "payment_id",
            "coach_id",
            "gross_minor",
            "fee_minor",
            "payout_minor",
            "currency",
            "note",
            "created_at",
        ]


class LedgerFilter(filters.FilterSet):
    entry_type = filters.ChoiceFilter(choices=LedgerEntryType.choices)
    currency = filters.CharFilter(max_length=3)
    order = filters.NumberFilter(field_name="order_id")

    class Meta:
        model = LedgerEntry
        fields = ["entry_type", "currency", "order"]


@extend_schema_view(get=extend_schema(summary="The ledger: charges, refunds and payouts (staff)"))
class Transactions(StaffList):
    serializer_class = LedgerSerializer
    queryset = LedgerEntry.objects.all()
    filterset_class = LedgerFilter


class AnalyticsOverview(APIView):
    permission_classes = (StaffOnly,)

    @extend_schema(
        summary="The analytics page's figures for a date range and currency (staff)",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE),
            OpenApiParameter("end", OpenApiTypes.DATE),
            OpenApiParameter("granularity", OpenApiTypes.STR, enum=["day", "week", "month"]),
            OpenApiParameter("currency", OpenApiTypes.STR),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        currencies = list(analytics.currencies())
        if settings.DEFAULT_CURRENCY not in currencies:
            currencies.insert(0, settings.DEFAULT_CURRENCY)
        params = request.query_params
        if any(params.get(name) for name in ("start", "end", "granularity", "currency")):
            check = AnalyticsFilterForm(params, currencies=currencies)
            if not check.is_valid():
                raise form_errors(check)
        span, _form, notes = analytics_range(params, currencies=currencies)
        report = analytics.report(span)
        period = {"start": span.start, "end": span.end, "granularity": span.granularity, "currency": span.currency}
        return Response({"range": period, "notes": notes, **report})


urlpatterns = [
    path("admin/users", Users.as_view(), name="admin-users"),
    path("admin/users/<int:pk>/suspend", SuspendUser.as_view(), name="admin-user-suspend"),
    path("admin/coaches/<int:pk>/verify", VerifyCoach.as_view(), name="admin-coach-verify"),
    path("admin/transactions", Transactions.as_view(), name="admin-transactions"),
    path("admin/analytics/overview", AnalyticsOverview.as_view(), name="admin-analytics"),
]
