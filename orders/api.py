"""orders on the REST API: accept a request, my orders, one order, its moves, deliveries and downloads.

Every move goes through orders.services and its one table of allowed moves (TRANSITIONS); the API only
picks the service by name, exactly like the order page's buttons.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictSerializer, examples, form_errors, role_permission, takes, validated_query
from core.exceptions import InvalidState
from core.http import client_ip
from core.money import minor_to_decimal
from files import downloads
from files.models import FileCategory, ScanStatus
from requests_app.attachments import collect_attachments
from requests_app.models import ServiceRequest

from . import listing, services
from .forms import DeliveryForm, NoteForm, OptionalNoteForm
from .models import Delivery, Order, OrderEvent, OrderStatus

ORDER = {
    "id": 311,
    "request_id": 518,
    "client_id": 42,
    "coach_id": 7,
    "service_type": "cv",
    "title": "CV for a move into product management",
    "amount_minor": 12000,
    "currency": "GBP",
    "amount": "120.00",
    "status": "in_progress",
    "deadline": "2026-12-14",
    "revisions_included": 2,
    "revisions_used": 0,
    "paid_at": "2026-11-30T09:20:11Z",
    "delivered_at": None,
    "completed_at": None,
    "cancelled_at": None,
    "created_at": "2026-11-30T09:02:45Z",
    "allowed_transitions": ["open_dispute"],
}
EVENTS = [
    {
        "from_status": "",
        "to_status": "pending",
        "kind": "created",
        "note": "Request accepted; waiting for payment.",
        "actor_id": 7,
        "created_at": "2026-11-30T09:02:45Z",
    },
    {
        "from_status": "pending",
        "to_status": "in_progress",
        "kind": "status",
        "note": "Payment received.",
        "actor_id": None,
        "created_at": "2026-11-30T09:20:11Z",
    },
]
DELIVERED = {
    **ORDER,
    "status": "delivered",
    "delivered_at": "2026-12-03T16:40:00Z",
    "allowed_transitions": ["request_revision", "accept_delivery", "open_dispute"],
    "events": [
        *EVENTS,
        {
            "from_status": "in_progress",
            "to_status": "delivered",
            "kind": "status",
            "note": "First draft, tailored to the PM roles you listed.",
            "actor_id": 7,
            "created_at": "2026-12-03T16:40:00Z",
        },
    ],
    "deliveries": [
        {
            "id": 90,
            "number": 1,
            "note": "First draft, tailored to the PM roles you listed.",
            "file_ids": [1204],
            "created_at": "2026-12-03T16:40:00Z",
        }
    ],
}
PENDING = {
    **ORDER,
    "status": "pending",
    "paid_at": None,
    "allowed_transitions": ["cancel"],
    "events": EVENTS[:1],
    "deliveries": [],
}
AS_COACH = {**DELIVERED, "allowed_transitions": ["open_dispute"]}

# The moves PATCH orders/{id}/status offers: the page's form for its note, the service and the name the
# service gives the note. Delivering has its own endpoint (files), payment is the webhooks' and resolving a
# dispute the console's (it moves money).
MOVES: dict[str, tuple[type[forms.Form], Callable[..., Order], str]] = {
    "cancel": (OptionalNoteForm, services.cancel_order, "reason"),
    "request_revision": (NoteForm, services.request_revision, "note"),
    "accept_delivery": (OptionalNoteForm, services.accept_delivery, "note"),
    "open_dispute": (NoteForm, services.open_dispute, "reason"),
}


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["from_status", "to_status", "kind", "note", "actor_id", "created_at"]


class DeliverySerializer(serializers.ModelSerializer):
    file_ids = serializers.PrimaryKeyRelatedField(source="files", many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "number", "note", "file_ids", "created_at"]


@examples({"Paid and in progress": ORDER})
class OrderSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField(help_text="Decimal string in the currency's major unit.")
    allowed_transitions = serializers.SerializerMethodField(help_text="The moves you may make now.")

    class Meta:
        model = Order
        fields = [
            "id",
            "request_id",
            "client_id",
            "coach_id",
            "service_type",
            "title",
            "amount_minor",
            "currency",
            "amount",
            "status",
            "deadline",
            "revisions_included",
            "revisions_used",
            "paid_at",
            "delivered_at",
            "completed_at",
            "cancelled_at",
            "created_at",
            "allowed_transitions",
        ]
        read_only_fields = fields

    def get_amount(self, order: Order) -> str:
        return str(minor_to_decimal(order.amount_minor, order.currency))

    def get_allowed_transitions(self, order: Order) -> list[str]:
        return services.allowed_transitions(order, self.context["request"].user)


@examples(
    {
        "Paid and in progress": {**ORDER, "events": EVENTS, "deliveries": []},
        "Delivered as its client sees it": DELIVERED,
    }
)
class OrderDetailSerializer(OrderSerializer):
    events = EventSerializer(many=True, read_only=True)
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "events", "deliveries"]
        read_only_fields = fields


def order_for(user, pk: int) -> Order:
    """The order if `user` is a party to it (or staff), else 404 — the page's get_order_for."""
    queryset = Order.objects.visible_to(user).prefetch_related(
        "events", Prefetch("deliveries", queryset=Delivery.objects.prefetch_related("files"))
    )
    return get_object_or_404(queryset, pk=pk)


def _detail(request, order: Order) -> Response:
    fresh = order_for(request.user, order.pk)
    return Response(OrderDetailSerializer(fresh, context={"request": request}).data)


class AcceptRequest(APIView):
    permission_classes = (role_permission("coach"),)

    @extend_schema(
        summary="Accept a request: it becomes an order waiting for the client's payment",
        request=None,
        responses={
            200: OpenApiResponse(
                OrderDetailSerializer,
                examples=[OpenApiExample("A new order waiting for payment", value=PENDING)],
            )
        },
        description="An open request another coach took first answers 409.",
    )
    def patch(self, request, pk: int):
        target = get_object_or_404(ServiceRequest.objects.acceptable_by(request.user), pk=pk)
        return _detail(request, services.accept_request(target.pk, actor=request.user))


class OrderQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1)


class MyOrders(generics.ListAPIView):
    serializer_class = OrderSerializer

    @extend_schema(summary="My orders (staff: all orders)", parameters=[OrderQuery])
    def get(self, request, *args, **kwargs):
        # Reused until one of the user's orders changes (orders.listing); bad filters raise uncached.
        query, host = request.META.get("QUERY_STRING", ""), f"{request.scheme}://{request.get_host()}"
        compute = lambda: super(MyOrders, self).get(request, *args, **kwargs).data  # noqa: E731
        return Response(listing.cached_page(request.user, query, host, compute))

    def get_queryset(self):
        params = validated_query(OrderQuery, self.request)
        queryset = Order.objects.visible_to(self.request.user)
        if params.get("status"):
            queryset = queryset.filter(status=params["status"])
        return queryset


class OrderDetail(APIView):
    @extend_schema(summary="One order with its timeline and deliveries", responses={200: OrderDetailSerializer})
    def get(self, request, pk: int):
        return _detail(request, order_for(request.user, pk))


@examples(
    {
        "Accept the delivery": {"transition": "accept_delivery"},
        "Ask for a revision": {"transition": "request_revision", "note": "Please lead with the product work."},
        "Open a dispute": {"transition": "open_dispute", "note": "Nothing was delivered by the deadline."},
    }
)
class MoveSerializer(StrictSerializer):
    transition = serializers.ChoiceField(choices=list(MOVES))
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class OrderStatusView(APIView):
    @takes(
        MoveSerializer,
        summary="Move an order along (cancel, request_revision, accept_delivery, open_dispute)",
        description="Only the moves in `allowed_transitions` succeed: another party's move is 403, a move the "
        "order's state does not allow is 409.",
        responses={200: OrderDetailSerializer},
    )
    def patch(self, request, data, pk: int):
        order = order_for(request.user, pk)
        form_class, move, note_name = MOVES[data["transition"]]
        form = form_class(data={"note": data["note"]})
        if not form.is_valid():
            raise form_errors(form)
        note = {note_name: form.cleaned_data["note"]}
        move(order.pk, actor=request.user, **note, ip_address=client_ip(request))
        return _detail(request, order)


class DeliveryFiles(APIView):
    parser_classes = (parsers.MultiPartParser,)

    @extend_schema(
        summary="Deliver files (coach)",
        description="Multipart: `files` (PDF/DOCX, checked by content and scanned), and/or `attachment_ids` of "
        "your own uploads, plus an optional `note`.",
        request=OpenApiRequest(
            {  # multipart/form-data, the one parser of this view
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "attachment_ids": {"type": "array", "items": {"type": "integer"}},
                    "note": {"type": "string", "maxLength": 2000},
                },
            },
            examples=[
                OpenApiExample(
                    "A file uploaded before and a note",
                    value={"attachment_ids": [1204], "note": "First draft, tailored to the PM roles you listed."},
                )
            ],
        ),
        responses={
            201: OpenApiResponse(
                OrderDetailSerializer, examples=[OpenApiExample("Delivered as its coach sees it", value=AS_COACH)]
            )
        },
    )
    def post(self, request, pk: int):
        order = order_for(request.user, pk)
        form = DeliveryForm(data={"note": request.data.get("note", "")})
        if not form.is_valid():
            raise form_errors(form)
        services.check_move(order, "deliver", request.user)  # refuse before storing any upload
        files = collect_attachments(request, category=FileCategory.DELIVERY)
        if not files:
            raise exceptions.ValidationError({"files": ["Attach at least one file to deliver."]})
        services.deliver(
            order.pk, actor=request.user, note=form.cleaned_data["note"], files=files, ip_address=client_ip(request)
        )
        response = _detail(request, order)
        response.status_code = status.HTTP_201_CREATED
        return response


@examples(
    {
        "The latest delivery": {
            "id": 1204,
            "name": "cv-product-manager.pdf",
            "url": "https://files.example.org/f/1204?sig=Zm9vYmFy&exp=1764780300",
            "expires_in": 300,
        }
    }
)
class DownloadLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField(help_text="Short-lived signed link.")
    expires_in = serializers.IntegerField()


class OrderDownload(APIView):
    @extend_schema(
        summary="Signed links to the latest delivery's files",
        description="409 while there is no delivery or a file is not yet clean of viruses.",
        responses={200: DownloadLinkSerializer(many=True)},
    )
    def get(self, request, pk: int):
        order = order_for(request.user, pk)
        latest = max(order.deliveries.all(), key=lambda d: d.number, default=None)
        if latest is None:
            raise InvalidState("Nothing has been delivered on this order yet.")
        assets = [asset for asset in latest.files.all() if asset.deleted_at is None]
        if any(asset.scan_status != ScanStatus.CLEAN for asset in assets):
            raise InvalidState("A delivered file is still being checked for viruses. Try again in a moment.")
        ttl = settings.FILE_URL_TTL_SECONDS
        links = [
            {"id": a.pk, "name": a.original_name, "url": downloads.signed_url(a), "expires_in": ttl} for a in assets
        ]
        return Response(links, headers={"Cache-Control": "private, no-store"})


urlpatterns = [
    path("requests/<int:pk>/accept", AcceptRequest.as_view(), name="request-accept"),
    path("orders/me", MyOrders.as_view(), name="orders-mine"),
    path("orders/<int:pk>", OrderDetail.as_view(), name="order"),
    path("orders/<int:pk>/status", OrderStatusView.as_view(), name="order-status"),
    path("orders/<int:pk>/delivery-files", DeliveryFiles.as_view(), name="order-delivery-files"),
    path("orders/<int:pk>/download", OrderDownload.as_view(), name="order-download"),
]
