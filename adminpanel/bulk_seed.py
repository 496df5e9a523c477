"""Bulk marketplace history for query-count tests and the analytics benchmark (bench/analytics.py).

Rows are written with bulk_create and back-dated timestamps, so this bypasses the services on
purpose: it builds *history* (months of orders in every state) fast, not behaviour. Never used by
the running site.
"""

from __future__ import annotations

import datetime as dt
import random
from contextlib import contextmanager

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from audit.models import AuditLog
from coaches.models import CoachProfile, CoachService, Language, ServiceType
from files.models import FileAsset, FileCategory, ScanStatus
from messaging.models import Message, MessageThread, ThreadReadState
from notifications.models import Notification
from orders.models import Delivery, Order, OrderEvent, OrderStatus, Review
from payments.models import (
    LedgerEntry,
    LedgerEntryType,
    Payment,
    PaymentStatus,
    Provider,
    Refund,
    RefundStatus,
    WebhookEvent,
    WebhookStatus,
)
from requests_app.models import RequestDecline, RequestStatus, ServiceRequest

BATCH = 2000
STATUS_WEIGHTS = [
    (OrderStatus.COMPLETED, 50),
    (OrderStatus.IN_PROGRESS, 12),
    (OrderStatus.DELIVERED, 10),
    (OrderStatus.PENDING, 10),
    (OrderStatus.CANCELLED, 13),
    (OrderStatus.DISPUTED, 5),
]
FEE_BPS = 2000


@contextmanager
def historical_timestamps():
    """Let bulk_create keep the created_at/updated_at we set (auto_now fields would overwrite them)."""
    models = (
        User,
        CoachProfile,
        CoachService,
        ServiceRequest,
        Order,
        OrderEvent,
        Delivery,
        Review,
        RequestDecline,
        Payment,
        LedgerEntry,
        Refund,
        WebhookEvent,
        FileAsset,
        MessageThread,
        Message,
        Notification,
        AuditLog,
    )
    fields = [
        field
        for model in models
        for field in model._meta.concrete_fields
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    ]
    saved = [(field, field.auto_now, field.auto_now_add) for field in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def seed(orders: int, *, days: int = 365, now: dt.datetime | None = None, rng_seed: int = 7, tag: str = "") -> dict:
    """Write `orders` orders (and their requests, payments, ledger, reviews…) spread over `days`."""
    rng = random.Random(rng_seed)
    now = now or timezone.now()
    tag = tag or f"s{rng.randrange(10**6)}"
    password = make_password(None)

    def when(lo_days: float = 0, hi_days: float = days) -> dt.datetime:
        return now - dt.timedelta(seconds=rng.uniform(lo_days * 86400, hi_days * 86400))

    with transaction.atomic(), historical_timestamps():
        n_coaches = max(10, orders // 200)
        n_clients = max(20, orders // 10)
        users = []
        for i in range(n_coaches + n_clients):
            joined = when()
            users.append(
                User(
                    email=f"{tag}-{'coach' if i < n_coaches else 'client'}{i}@bench.example",
                    first_name=f"First{i}",
                    last_name=f"Last{i}",
                    role=Role.COACH if i < n_coaches else Role.CLIENT,
                    password=password,
                    date_joined=joined,
                    created_at=joined,
                    updated_at=joined,
                )
            )
        users = User.objects.bulk_create(users, batch_size=BATCH)
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=i % 5 != 0, primary=True) for i, u in enumerate(users)],
            batch_size=BATCH,
        )
        coaches, clients = users[:n_coaches], users[n_coaches:]
        profiles = CoachProfile.objects.bulk_create(
            [
                CoachProfile(
                    user=u,
                    headline=f"Coach {i}",
                    is_verified=i % 2 == 0,
                    created_at=u.date_joined,
                    updated_at=u.date_joined,
                )
                for i, u in enumerate(coaches)
            ]
        )
        CoachService.objects.bulk_create(
            [
                CoachService(
                    coach=p,
                    service_type=ServiceType.CV,
                    price_minor=10000 + 500 * (i % 10),
                    currency="GBP",
                    created_at=p.created_at,
                    updated_at=p.created_at,
                )
                for i, p in enumerate(profiles)
            ]
        )

        # Languages normally come from a data migration; a flushed test database has none.
        languages = [
            Language.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in (("en", "English"), ("fr", "French"), ("de", "German"))
        ]
        CoachProfile.languages.through.objects.bulk_create(
            [
                CoachProfile.languages.through(coachprofile_id=p.pk, language_id=languages[i % 3].pk)
                for i, p in enumerate(profiles)
            ],
            batch_size=BATCH,
        )

        statuses = [status for status, weight in STATUS_WEIGHTS for _ in range(weight)]
        requests, plans = [], []
        for i in range(orders):
            coach_index = rng.randrange(n_coaches)
            created = when(1)
            decided = created + dt.timedelta(hours=rng.uniform(0.5, 48))
            status = rng.choice(statuses)
            amount = 10000 + 500 * (coach_index % 10)
            requests.append(
                ServiceRequest(
                    client=rng.choice(clients),
                    coach=profiles[coach_index],
                    service_type=ServiceType.CV,
                    title=f"CV rewrite {i}",
                    requirements="Bench data.",
                    deadline=(created + dt.timedelta(days=14)).date(),
                    price_minor=amount,
                    currency="GBP",
                    status=RequestStatus.ACCEPTED,
                    expires_at=created + dt.timedelta(hours=72),
                    decided_at=decided,
                    created_at=created,
                    updated_at=decided,
                )
            )
            plans.append((coach_index, status, amount, decided))
        # Requests that never became orders: the top of the conversion funnel.
        for _ in range(orders // 4):
            created = when()
            requests.append(
                ServiceRequest(
                    client=rng.choice(clients),
                    coach=rng.choice(profiles),
                    service_type=ServiceType.CV,
                    title="Unanswered",
                    requirements="Bench data.",
                    deadline=(created + dt.timedelta(days=14)).date(),
                    status=rng.choice([RequestStatus.REJECTED, RequestStatus.EXPIRED, RequestStatus.PENDING]),
                    expires_at=created + dt.timedelta(hours=72),
                    created_at=created,
                    updated_at=created,
                )
            )
        requests = ServiceRequest.objects.bulk_create(requests, batch_size=BATCH)

        order_rows = []
        for request, (coach_index, status, amount, decided) in zip(requests, plans, strict=False):
            paid = status not in (OrderStatus.PENDING, OrderStatus.CANCELLED) or (
                status == OrderStatus.CANCELLED and rng.random() < 0.3
            )
            paid_at = decided + dt.timedelta(hours=rng.uniform(0.1, 24)) if paid else None
            delivered_at = (
                paid_at + dt.timedelta(hours=rng.uniform(12, 120))
                if paid_at and status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.DISPUTED)
                else None
            )
            completed_at = (
                delivered_at + dt.timedelta(days=2) if delivered_at and status == OrderStatus.COMPLETED else None
            )
            order_rows.append(
                Order(
                    request=request,
                    client_id=request.client_id,
                    coach=coaches[coach_index],
                    service_type=ServiceType.CV,
                    title=request.title,
                    amount_minor=amount,
                    currency="GBP",
                    status=status,
                    deadline=request.deadline,
                    paid_at=paid_at,
                    delivered_at=delivered_at,
                    completed_at=completed_at,
                    cancelled_at=decided + dt.timedelta(days=3) if status == OrderStatus.CANCELLED else None,
                    created_at=decided,
                    updated_at=completed_at or delivered_at or paid_at or decided,
                )
            )
        order_rows = Order.objects.bulk_create(order_rows, batch_size=BATCH)

        profile_of = {profile.user_id: profile for profile in profiles}
        payments, events, reviews, threads, notes, audits = [], [], [], [], [], []
        providers = [Provider.STRIPE, Provider.PAYPAL, Provider.TEST]
        for i, order in enumerate(order_rows):
            events.append(
                OrderEvent(order=order, to_status=OrderStatus.PENDING, kind="created", created_at=order.created_at)
            )
            threads.append(MessageThread(order=order, created_at=order.created_at, updated_at=order.created_at))
            notes.append(
                Notification(
                    user_id=order.client_id,
                    kind="request_accepted",
                    text=f"Order #{order.pk} accepted",
                    created_at=order.created_at,
                    updated_at=order.created_at,
                )
            )
            audits.append(
                AuditLog(
                    action="bench.seed",
                    target_type="orders.order",
                    target_id=str(order.pk),
                    target_repr=order.title,
                    created_at=order.created_at,
                )
            )
            if order.paid_at:
                refunded = order.amount_minor if order.status == OrderStatus.CANCELLED else 0
                payments.append(
                    Payment(
                        order=order,
                        client_id=order.client_id,
                        provider=providers[i % 3],
                        provider_payment_id=f"{tag}-pay-{order.pk}",
                        amount_minor=order.amount_minor,
                        refunded_minor=refunded,
                        currency="GBP",
                        status=PaymentStatus.REFUNDED if refunded else PaymentStatus.CAPTURED,
                        captured_at=order.paid_at,
                        created_at=order.paid_at,
                        updated_at=order.paid_at,
                    )
                )
            if order.status == OrderStatus.COMPLETED and rng.random() < 0.6:
                reviews.append(
                    Review(
                        order=order,
                        client_id=order.client_id,
                        coach=profile_of[order.coach_id],
                        rating=rng.choice([3, 4, 4, 5, 5, 5]),
                        comment="Bench review",
                        created_at=order.completed_at or order.created_at,  # a completed order has completed_at
                        updated_at=order.completed_at or order.created_at,
                    )
                )
        payments = Payment.objects.bulk_create(payments, batch_size=BATCH)
        OrderEvent.objects.bulk_create(events, batch_size=BATCH)
        MessageThread.objects.bulk_create(threads, batch_size=BATCH)
        Notification.objects.bulk_create(notes, batch_size=BATCH)
        AuditLog.objects.bulk_create(audits, batch_size=BATCH)
        Review.objects.bulk_create(reviews, batch_size=BATCH)

        by_order = {order.pk: order for order in order_rows}
        ledger = []
        for payment in payments:
            order = by_order[payment.order_id]
            fee = (2 * payment.amount_minor * FEE_BPS + 10_000) // 20_000
            ledger.append(
                _entry(LedgerEntryType.CHARGE, payment, order, payment.amount_minor, fee, payment.captured_at)
            )
            if payment.refunded_minor:
                refund_at = order.cancelled_at or payment.captured_at
                ledger.append(
                    _entry(LedgerEntryType.REFUND, payment, order, -payment.amount_minor, -fee, refund_at, "r")
                )
            if order.status == OrderStatus.COMPLETED:
                share = payment.amount_minor - fee
                ledger.append(_entry(LedgerEntryType.PAYOUT, payment, order, share, 0, order.completed_at, "p"))
        LedgerEntry.objects.bulk_create(ledger, batch_size=BATCH)
        refunded_payments = [payment for payment in payments if payment.refunded_minor]
        Refund.objects.bulk_create(
            [
                Refund(
                    payment=payment,
                    amount_minor=payment.refunded_minor,
                    currency=payment.currency,
                    status=RefundStatus.SUCCEEDED,
                    provider_refund_id=f"{tag}-re-{payment.pk}",
                    reason="Bench refund",
                    created_at=payment.captured_at or payment.created_at,
                    updated_at=payment.captured_at or payment.created_at,
                )
                for payment in refunded_payments
            ],
            batch_size=BATCH,
        )
        WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(
                    provider=payment.provider,
                    event_id=f"{tag}-evt-{payment.pk}",
                    event_type="payment.captured",
                    payload={"payment": payment.provider_payment_id},
                    status=WebhookStatus.PROCESSED,
                    attempts=1,
                    received_at=payment.captured_at or payment.created_at,  # every seeded payment is captured
                    processed_at=payment.captured_at,
                )
                for payment in payments
            ],
            batch_size=BATCH,
        )

        files = [
            FileAsset(
                owner=rng.choice(clients),
                key=f"{tag}/file-{i}.pdf",
                original_name=f"cv-{i}.pdf",
                content_type="application/pdf",
                size=1000 + i,
                sha256=f"{i:064x}",
                category=FileCategory.CV_UPLOAD,
                scan_status=rng.choice([ScanStatus.CLEAN, ScanStatus.CLEAN, ScanStatus.ERROR, ScanStatus.PENDING]),
                created_at=when(),
                updated_at=now,
            )
            for i in range(max(100, orders // 10))
        ]
        FileAsset.objects.bulk_create(files, batch_size=BATCH)
        thread_ids = list(MessageThread.objects.filter(order__in=order_rows[:200]).values_list("pk", "order_id"))
        Message.objects.bulk_create(
            [
                Message(thread_id=thread_id, sender_id=by_order[order_id].client_id, body="Hello", created_at=now)
                for thread_id, order_id in thread_ids
            ],
            batch_size=BATCH,
        )
        ThreadReadState.objects.bulk_create(
            [
                ThreadReadState(thread_id=thread_id, user_id=by_order[order_id].coach_id, last_read_at=now)
                for thread_id, order_id in thread_ids
            ],
            batch_size=BATCH,
        )
        Delivery.objects.bulk_create(
            [
                Delivery(
                    order=order,
                    number=1,
                    created_by_id=order.coach_id,
                    created_at=order.delivered_at,
                    updated_at=order.delivered_at,
                )
                for order in order_rows
                if order.delivered_at
            ],
            batch_size=BATCH,
        )
        unanswered = [r for r in requests[orders:] if r.status == RequestStatus.REJECTED][:200]
        RequestDecline.objects.bulk_create(
            [
                RequestDecline(request=r, coach=r.coach, reason="Busy", created_at=r.created_at, updated_at=now)
                for r in unanswered
            ],
            batch_size=BATCH,
        )
    return {
        "users": len(users),
        "requests": len(requests),
        "orders": len(order_rows),
        "payments": len(payments),
        "ledger": len(ledger),
        "reviews": len(reviews),
    }


def _entry(kind, payment, order, gross, fee, at, suffix=""):
    return LedgerEntry(
        entry_type=kind,
        payment=payment,
        order=order,
        coach_id=order.coach_id,
        gross_minor=gross,
        fee_minor=fee,
        payout_minor=gross - fee,
        currency=payment.currency,
        idempotency_key=f"{kind}{suffix}:{payment.provider_payment_id}",
        created_at=at,
    )
