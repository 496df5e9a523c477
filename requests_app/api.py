"""requests_app on the REST API: send a request, my requests, what a coach can take, one request, reject.

Accepting a request creates an order, so `requests/{id}/accept` lives in orders.api (as on the pages).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from coaches.models import CoachProfile, ServiceType
from core.api import StrictSerializer, examples, form_errors, role_permission, takes
from core.money import minor_to_decimal
from files.models import FileCategory
from files.services import assets_for_attach

from . import services
from .forms import RejectForm, ServiceRequestForm
from .models import ServiceRequest


@examples(
    {
        "Sent to one coach": {
            "id": 518,
            "client_id": 42,
            "coach_id": 7,
            "service_type": "cv",
            "title": "CV for a move into product management",
            "requirements": "Eight years in support engineering; aiming for associate PM roles in fintech.",
            "deadline": "2026-12-14",
            "status": "pending",
            "price_minor": 12000,
            "currency": "GBP",
            "price": "120.00",
            "expires_at": "2026-12-02T09:00:00Z",
            "created_at": "2026-11-29T09:00:00Z",
            "attachment_ids": [1190],
            "job_title": "Associate Product Manager",
            "job_description": "You will own the roadmap of our payments app, work with engineers and designers...",
        },
        "Open to every matching coach": {
            "id": 519,
            "client_id": 42,
            "coach_id": None,
            "service_type": "linkedin",
            "title": "LinkedIn profile refresh",
            "requirements": "Headline and about section for a data analyst looking for remote work.",
            "deadline": "2026-12-20",
            "status": "pending",
            "price_minor": None,
            "currency": "",
            "price": None,
            "expires_at": "2026-12-03T10:30:00Z",
            "created_at": "2026-11-30T10:30:00Z",
            "attachment_ids": [],
            "job_title": "",
            "job_description": "",
        },
    }
)
class RequestSerializer(serializers.ModelSerializer):
    coach_id = serializers.IntegerField(read_only=True, allow_null=True, help_text="Coach profile; null = open.")
    price = serializers.SerializerMethodField(help_text="Decimal string, null until a price is fixed.")
    attachment_ids = serializers.PrimaryKeyRelatedField(source="attachments", many=True, read_only=True)

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "client_id",
            "coach_id",
            "service_type",
            "title",
            "requirements",
            "deadline",
            "status",
            "price_minor",
            "currency",
            "price",
            "expires_at",
            "created_at",
            "attachment_ids",
            "job_title",
            "job_description",
        ]
        read_only_fields = fields

    def get_price(self, obj: ServiceRequest) -> str | None:
        if obj.price_minor is None or not obj.currency:
            return None
        return str(minor_to_decimal(obj.price_minor, obj.currency))


@examples(
    {
        "To one coach": {
            "coach_id": 7,
            "service_type": "cv",
            "title": "CV for a move into product management",
            "requirements": "Eight years in support engineering; aiming for associate PM roles in fintech.",
            "deadline": "2026-12-14",
            "attachment_ids": [1190],
        },
        "Open to every matching coach": {
            "service_type": "linkedin",
            "title": "LinkedIn profile refresh",
            "requirements": "Headline and about section for a data analyst looking for remote work.",
            "deadline": "2026-12-20",
        },
    }
)
class NewRequestSerializer(StrictSerializer):
    coach_id = serializers.IntegerField(required=False, allow_null=True, help_text="Omit for an open request.")
    service_type = serializers.ChoiceField(choices=ServiceType.choices)
    title = serializers.CharField(max_length=160)
    requirements = serializers.CharField(max_length=5000)
    deadline = serializers.DateField()
    attachment_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=20)
    job_title = serializers.CharField(required=False, allow_blank=True, default="", max_length=160)
    job_description = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="The target job for the order's job-match report (at most DOCUMENTS_JOB_MAX_CHARS characters).",
    )


@examples({"With a reason": {"reason": "I am fully booked until January."}, "Without one": {}})
class RejectSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def _listed(queryset):
    return queryset.prefetch_related("attachments")


class NewRequest(APIView):
    """POST requests: a verified client asks one coach, or every matching coach (no coach_id)."""

    permission_classes = (role_permission("client"),)

    @takes(
        NewRequestSerializer, summary="Send a request to a coach, or an open one", responses={201: RequestSerializer}
    )
    def post(self, request, data):
        coach_profile = None
        if data.get("coach_id") is not None:
            coach_profile = CoachProfile.objects.prefetch_related("services").filter(pk=data["coach_id"]).first()
            if coach_profile is None:
                raise exceptions.ValidationError({"coach_id": ["No such coach."]})
        form = ServiceRequestForm(data=data, coach_profile=coach_profile)
        if not form.is_valid():
            raise form_errors(form)
        try:
            attachments = assets_for_attach(request.user, data.get("attachment_ids", []), FileCategory.CV_UPLOAD)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"attachment_ids": exc.messages}) from exc
        services.check_rate_limit(request.user)
        cleaned = form.cleaned_data
        created = services.create_request(
            actor=request.user,
            coach_profile=coach_profile,
            service_type=cleaned["service_type"],
            title=cleaned["title"],
            requirements=cleaned["requirements"],
            deadline=cleaned["deadline"],
            attachments=attachments,
            job_title=cleaned["job_title"],
            job_description=cleaned["job_description"],
        )
        return Response(RequestSerializer(created).data, status=status.HTTP_201_CREATED)


class MyRequests(generics.ListAPIView):
    serializer_class = RequestSerializer
    permission_classes = (role_permission("client"),)

    def get_queryset(self):
        return _listed(ServiceRequest.objects.for_client(self.request.user))

    @extend_schema(summary="My requests (client)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AvailableRequests(generics.ListAPIView):
    """GET requests/available: what a coach can act on now (addressed to them, or open and matching)."""

    serializer_class = RequestSerializer
    permission_classes = (role_permission("coach"),)

    def get_queryset(self):
        profile = getattr(self.request.user, "coach_profile", None)
        if profile is None:
            return ServiceRequest.objects.none()
        self.cursor_ordering = ("expires_at", "id")
        return ServiceRequest.objects.available_to(profile).prefetch_related("attachments")

    @extend_schema(summary="Requests I can take (coach)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RequestDetail(generics.RetrieveAPIView):
    serializer_class = RequestSerializer
    permission_classes = (IsAuthenticated,)

    def get_queryset(self):
        return ServiceRequest.objects.visible_to(self.request.user).prefetch_related("attachments")

    @extend_schema(summary="One request (its client, a coach it is open to or addressed to, staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RejectRequest(APIView):
    permission_classes = (role_permission("coach"),)

    @takes(
        RejectSerializer,
        summary="Reject a request addressed to me, or pass on an open one",
        responses={200: RequestSerializer},
    )
    def patch(self, request, data, pk: int):
        reason = data["reason"]
        form = RejectForm(data={"reason": reason})
        if not form.is_valid():
            raise form_errors(form)
        target = get_object_or_404(ServiceRequest.objects.visible_to(request.user), pk=pk)
        services.reject_request(target.pk, actor=request.user, reason=form.cleaned_data["reason"])
        target.refresh_from_db()
        return Response(RequestSerializer(target).data)


urlpatterns = [
    path("requests", NewRequest.as_view(), name="requests"),
    path("requests/me", MyRequests.as_view(), name="requests-mine"),
    path("requests/available", AvailableRequests.as_view(), name="requests-available"),
    path("requests/<int:pk>", RequestDetail.as_view(), name="request"),
    path("requests/<int:pk>/reject", RejectRequest.as_view(), name="request-reject"),
]
