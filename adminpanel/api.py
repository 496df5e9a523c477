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
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services as accounts
from accounts.models import AccountStatus, Role, User
from coaches import services as coaches
from coaches.api import CoachDetailSerializer, profile_data
from coaches.models import CoachProfile
from core.api import StrictSerializer, examples, form_errors, role_permission, takes
from core.http import client_ip
from payments.models import LedgerEntry, LedgerEntryType

from . import analytics
from .forms import AnalyticsFilterForm, analytics_range

StaffOnly = role_permission("admin")


@examples(
    {
        "A suspended client": {
            "id": 42,
            "email": "sam.client@example.org",
            "first_name": "Sam",
            "last_name": "Okafor",
            "role": "client",
            "account_status": "suspended",
            "suspended_reason": "Chargeback fraud",
            "created_at": "2026-10-02T14:03:11Z",
        }
    }
)
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


@examples({"With the reason told to the user": {"reason": "Chargeback fraud"}})
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


@examples({"Verify": {"verified": True}, "Take the badge back": {"verified": False}})
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


@examples(
    {
        "A charge": {
            "id": 1501,
            "entry_type": "charge",
            "order_id": 311,
            "payment_id": 905,
            "coach_id": 7,
            "gross_minor": 12000,
            "fee_minor": 2400,
            "payout_minor": 9600,
            "currency": "GBP",
            "note": "",
            "created_at": "2026-11-30T09:20:11Z",
        }
    }
)
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


WEEK = "2026-11-23"
ANALYTICS = {
    "range": {"start": "2026-11-23", "end": "2026-11-29", "granularity": "week", "currency": "GBP"},
    "notes": [],
    "revenue": [{"period": WEEK, "gross": 48000, "refunds": -12000, "fees": 7200, "payouts": 9600, "net": 36000}],
    "revenue_totals": {"gross": 48000, "refunds": -12000, "fees": 7200, "payouts": 9600, "net": 36000},
    "orders_by_status": [
        {"status": "pending", "label": "Awaiting payment", "count": 2},
        {"status": "in_progress", "label": "In progress", "count": 3},
        {"status": "delivered", "label": "Delivered", "count": 1},
        {"status": "completed", "label": "Completed", "count": 1},
        {"status": "cancelled", "label": "Cancelled", "count": 1},
        {"status": "disputed", "label": "Disputed", "count": 0},
    ],
    "conversion": [
        {"step": "requests", "label": "Requests sent", "count": 10, "percent": 100.0},
        {"step": "orders", "label": "Accepted (order created)", "count": 8, "percent": 80.0},
        {"step": "paid", "label": "Paid", "count": 5, "percent": 50.0},
        {"step": "completed", "label": "Completed", "count": 1, "percent": 10.0},
    ],
    "timings": {"accept": 5.5, "accept_count": 8, "deliver": 52.0, "deliver_count": 2},
    "top_by_revenue": [
        {
            "coach_id": 7,
            "revenue": 36000,
            "fees": 7200,
            "orders": 4,
            "coach__email": "amira.haddad@example.org",
            "coach__first_name": "Amira",
            "coach__last_name": "Haddad",
        }
    ],
    "top_by_rating": [
        {
            "coach_id": 3,
            "rating": 4.8,
            "reviews": 5,
            "coach__user__email": "amira.haddad@example.org",
            "coach__user__first_name": "Amira",
            "coach__user__last_name": "Haddad",
        }
    ],
    "new_users": {
        "totals": [
            {"role": "client", "label": "Client", "count": 9},
            {"role": "coach", "label": "Coach", "count": 2},
            {"role": "admin", "label": "Staff", "count": 0},
        ],
        "series": [{"period": WEEK, "client": 9, "coach": 2, "admin": 0}],
    },
}


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
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, examples=[OpenApiExample("One week in pounds", value=ANALYTICS)])
        },
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
