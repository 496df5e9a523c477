"""Bulk marketplace history for query-count tests and the analytics benchmark (bench/analytics.py).

Rows are written with bulk_create and back-dated timestamps, so this bypasses the services on
purpose: it builds *history* (months of orders in every state) fast, not behaviour. Never used by
the running site.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as default

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.models import ApiRefreshToken, Role, User
from audit.models import AuditLog
from coaches.models import CoachProfile, CoachService, ExchangeRate, Language, ServiceType
from coaches.services import refresh_all_listings, refresh_base_prices
from files.models import Avatar, DataExport, ExportStatus, FileAsset, FileCategory, ScanStatus
from messaging.models import Message, MessageThread, ThreadReadState
from notifications.models import EmailPreference, Notification, SentEmail
from orders.models import Delivery, DisputeRole, DisputeStatement, Order, OrderEvent, OrderStatus, Review
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
        Avatar,
        DataExport,
        MessageThread,
        Message,
        Notification,
        SentEmail,
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


@dataclass
class _History:
    """What one seed run has written so far, handed from step to step."""

    rng: random.Random
    now: dt.datetime
    days: int
    tag: str
    coaches: list[User] = default(default_factory=list)
    clients: list[User] = default(default_factory=list)
    profiles: list[CoachProfile] = default(default_factory=list)
    requests: list[ServiceRequest] = default(default_factory=list)
    orders: list[Order] = default(default_factory=list)
    payments: list[Payment] = default(default_factory=list)
    counts: dict[str, int] = default(default_factory=dict)

    def when(self, lo_days: float = 0, hi_days: float | None = None) -> dt.datetime:
        """A moment between lo_days and hi_days (default: the whole span) before `now`."""
        hi = self.days if hi_days is None else hi_days
        return self.now - dt.timedelta(seconds=self.rng.uniform(lo_days * 86400, hi * 86400))

    @property
    def by_order(self) -> dict[int, Order]:
        return {order.pk: order for order in self.orders}


def seed(
    orders: int, *, days: int = 365, now: dt.datetime | None = None, rng_seed: int = 7, tag: str = ""
) -> dict[str, int]:
    """Write `orders` orders (and their requests, payments, ledger, reviews…) spread over `days`."""
    rng = random.Random(rng_seed)
    history = _History(rng=rng, now=now or timezone.now(), days=days, tag=tag or f"s{rng.randrange(10**6)}")
    with transaction.atomic(), historical_timestamps():
        _seed_people(history, n_coaches=max(10, orders // 200), n_clients=max(20, orders // 10))
        _seed_coach_profiles(history)
        plans = _seed_requests(history, orders)
        _seed_orders(history, plans)
        _seed_order_history(history)
        _seed_money(history)
        _seed_files(history, max(100, orders // 10))
        _seed_chat_and_deliveries(history, orders)
        _seed_disputes_and_api_sessions(history)
    return history.counts


def _seed_people(history: _History, *, n_coaches: int, n_clients: int) -> None:
    """Coaches and clients, one in five with an unverified email, one in ten without chat emails."""
    password = make_password(None)
    users = []
    for i in range(n_coaches + n_clients):
        joined = history.when()
        users.append(
            User(
                email=f"{history.tag}-{'coach' if i < n_coaches else 'client'}{i}@bench.example",
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
    EmailPreference.objects.bulk_create(
        [EmailPreference(user=u, category="message", enabled=False) for u in users[::10]], batch_size=BATCH
    )
    history.coaches, history.clients = users[:n_coaches], users[n_coaches:]
    history.counts["users"] = len(users)


def _seed_coach_profiles(history: _History) -> None:
    """A profile per coach with a CV service and one of three languages; the demo exchange rates."""
    history.profiles = CoachProfile.objects.bulk_create(
        [
            CoachProfile(
                user=u,
                headline=f"Coach {i}",
                is_verified=i % 2 == 0,
                created_at=u.date_joined,
                updated_at=u.date_joined,
            )
            for i, u in enumerate(history.coaches)
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
            for i, p in enumerate(history.profiles)
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
            for i, p in enumerate(history.profiles)
        ],
        batch_size=BATCH,
    )
    for currency, units in (("EUR", "1.17"), ("USD", "1.27")):  # the rates seed_demo enters
        ExchangeRate.objects.update_or_create(
            currency=currency, defaults={"units_per_base": units, "as_of": history.now.date()}
        )
    # What the services' signal handler derives (bulk_create sends no signals): "price from", base prices,
    # listings and the directory offers, so the console shows them as they are for real coaches.
    cheapest = (
        CoachService.objects.filter(coach=OuterRef("pk"), is_active=True).order_by("price_minor").values("price_minor")
    )
    CoachProfile.objects.filter(pk__in=[p.pk for p in history.profiles]).update(price_from_minor=Subquery(cheapest[:1]))
    refresh_base_prices()
    refresh_all_listings()


def _seed_requests(history: _History, orders: int) -> list[tuple[int, str, int, dt.datetime]]:
    """`orders` accepted requests (returned as plans for their orders), then a quarter as many that never
    became orders: the top of the conversion funnel."""
    rng = history.rng
    statuses = [status for status, weight in STATUS_WEIGHTS for _ in range(weight)]
    requests: list[ServiceRequest] = []
    plans: list[tuple[int, str, int, dt.datetime]] = []
    for i in range(orders):
        coach_index = rng.randrange(len(history.coaches))
        created = history.when(1)
        decided = created + dt.timedelta(hours=rng.uniform(0.5, 48))
        status = rng.choice(statuses)
        amount = 10000 + 500 * (coach_index % 10)
        requests.append(
            ServiceRequest(
                client=rng.choice(history.clients),
                coach=history.profiles[coach_index],
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
    for _ in range(orders // 4):
        created = history.when()
        requests.append(
            ServiceRequest(
                client=rng.choice(history.clients),
                coach=rng.choice(history.profiles),
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
    history.requests = ServiceRequest.objects.bulk_create(requests, batch_size=BATCH)
    history.counts["requests"] = len(history.requests)
    return plans


def _seed_orders(history: _History, plans: list[tuple[int, str, int, dt.datetime]]) -> None:
    """One order per accepted request, with the timestamps its status implies."""
    rng = history.rng
    rows = []
    for request, (coach_index, status, amount, decided) in zip(history.requests, plans, strict=False):
        paid = status not in (OrderStatus.PENDING, OrderStatus.CANCELLED) or (
            status == OrderStatus.CANCELLED and rng.random() < 0.3
        )
        paid_at = decided + dt.timedelta(hours=rng.uniform(0.1, 24)) if paid else None
        delivered_at = (
            paid_at + dt.timedelta(hours=rng.uniform(12, 120))
            if paid_at and status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.DISPUTED)
            else None
        )
        completed_at = delivered_at + dt.timedelta(days=2) if delivered_at and status == OrderStatus.COMPLETED else None
        rows.append(
            Order(
                request=request,
                client_id=request.client_id,
                coach=history.coaches[coach_index],
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
    history.orders = Order.objects.bulk_create(rows, batch_size=BATCH)
    history.counts["orders"] = len(history.orders)


def _seed_order_history(history: _History) -> None:
    """Per order: its creation event, thread, notification and audit row; a payment once paid; a
    review for most completed orders."""
    profile_of = {profile.user_id: profile for profile in history.profiles}
    payments, events, reviews, threads, notes, audits = [], [], [], [], [], []
    providers = [Provider.STRIPE, Provider.PAYPAL, Provider.TEST]
    for i, order in enumerate(history.orders):
        events.append(
            OrderEvent(order=order, to_status=OrderStatus.PENDING, kind="created", created_at=order.created_at)
        )
        threads.append(
            MessageThread(
                order=order,
                client_id=order.client_id,
                coach_id=order.coach_id,
                created_at=order.created_at,
                updated_at=order.created_at,
            )
        )
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
            payments.append(_payment(order, providers[i % 3], history.tag))
        if order.status == OrderStatus.COMPLETED and history.rng.random() < 0.6:
            reviews.append(
                Review(
                    order=order,
                    client_id=order.client_id,
                    coach=profile_of[order.coach_id],
                    rating=history.rng.choice([3, 4, 4, 5, 5, 5]),
                    comment="Bench review",
                    created_at=_known(order.completed_at),
                    updated_at=_known(order.completed_at),
                )
            )
    history.payments = Payment.objects.bulk_create(payments, batch_size=BATCH)
    OrderEvent.objects.bulk_create(events, batch_size=BATCH)
    MessageThread.objects.bulk_create(threads, batch_size=BATCH)
    notes = Notification.objects.bulk_create(notes, batch_size=BATCH)
    SentEmail.objects.bulk_create(_sent_emails(notes, history.tag), batch_size=BATCH)
    AuditLog.objects.bulk_create(audits, batch_size=BATCH)
    Review.objects.bulk_create(reviews, batch_size=BATCH)
    history.counts["payments"] = len(history.payments)
    history.counts["reviews"] = len(reviews)


def _known(moment: dt.datetime | None) -> dt.datetime:
    """A timestamp the earlier step always set on the rows it hands on (a paid order has paid_at)."""
    assert moment is not None
    return moment


def _payment(order: Order, provider: str, tag: str) -> Payment:
    """The captured payment of a paid order; a cancelled one was refunded in full."""
    refunded = order.amount_minor if order.status == OrderStatus.CANCELLED else 0
    return Payment(
        order=order,
        client_id=order.client_id,
        provider=provider,
        provider_payment_id=f"{tag}-pay-{order.pk}",
        amount_minor=order.amount_minor,
        refunded_minor=refunded,
        currency="GBP",
        status=PaymentStatus.REFUNDED if refunded else PaymentStatus.CAPTURED,
        captured_at=order.paid_at,
        created_at=_known(order.paid_at),
        updated_at=_known(order.paid_at),
    )


def _seed_money(history: _History) -> None:
    """The ledger rows of every payment (charge, refund of cancelled orders, payout of completed ones),
    the confirmed refunds and one processed webhook per payment."""
    by_order = history.by_order
    ledger = []
    for payment in history.payments:
        order = by_order[payment.order_id]
        fee = (2 * payment.amount_minor * FEE_BPS + 10_000) // 20_000
        ledger.append(_entry(LedgerEntryType.CHARGE, payment, order, payment.amount_minor, fee, payment.captured_at))
        if payment.refunded_minor:
            refund_at = order.cancelled_at or payment.captured_at
            ledger.append(_entry(LedgerEntryType.REFUND, payment, order, -payment.amount_minor, -fee, refund_at, "r"))
        if order.status == OrderStatus.COMPLETED:
            share = payment.amount_minor - fee
            ledger.append(_entry(LedgerEntryType.PAYOUT, payment, order, share, 0, order.completed_at, "p"))
    LedgerEntry.objects.bulk_create(ledger, batch_size=BATCH)
    history.counts["ledger"] = len(ledger)
    Refund.objects.bulk_create(
        [
            Refund(
                payment=payment,
                amount_minor=payment.refunded_minor,
                currency=payment.currency,
                status=RefundStatus.SUCCEEDED,
                provider_refund_id=f"{history.tag}-re-{payment.pk}",
                reason="Bench refund",
                created_at=_known(payment.captured_at),
                updated_at=_known(payment.captured_at),
            )
            for payment in history.payments
            if payment.refunded_minor
        ],
        batch_size=BATCH,
    )
    WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(
                provider=payment.provider,
                event_id=f"{history.tag}-evt-{payment.pk}",
                event_type="payment.captured",
                payload={"payment": payment.provider_payment_id},
                status=WebhookStatus.PROCESSED,
                attempts=1,
                received_at=_known(payment.captured_at),
                processed_at=payment.captured_at,
            )
            for payment in history.payments
        ],
        batch_size=BATCH,
    )


def _seed_files(history: _History, count: int) -> None:
    """Client uploads in every scan state, and a clean profile photo for every other coach."""
    rng = history.rng
    files = [
        FileAsset(
            owner=rng.choice(history.clients),
            key=f"{history.tag}/file-{i}.pdf",
            original_name=f"cv-{i}.pdf",
            content_type="application/pdf",
            size=1000 + i,
            sha256=f"{i:064x}",
            category=FileCategory.CV_UPLOAD,
            scan_status=rng.choice([ScanStatus.CLEAN, ScanStatus.CLEAN, ScanStatus.ERROR, ScanStatus.PENDING]),
            created_at=history.when(),
            updated_at=history.now,
        )
        for i in range(count)
    ]
    FileAsset.objects.bulk_create(files, batch_size=BATCH)
    photographed = history.coaches[::2]
    photos = _clean_files_of(
        history, photographed, "avatar", ".png", "me.png", "image/png", 2000, FileCategory.AVATAR, by_joining=True
    )
    Avatar.objects.bulk_create(
        [
            Avatar(user=coach, asset=photo, created_at=photo.created_at, updated_at=photo.created_at)
            for coach, photo in zip(photographed, photos, strict=True)
        ],
        batch_size=BATCH,
    )
    _seed_exports(history)


def _clean_files_of(
    history: _History,
    owners: list[User],
    kind: str,
    extension: str,
    name: str,
    content_type: str,
    size: int,
    category: str,
    *,
    by_joining: bool = False,
) -> list[FileAsset]:
    """One scanned-clean file per owner (an avatar, an export ZIP), dated now or when they joined."""
    return FileAsset.objects.bulk_create(
        [
            FileAsset(
                owner=owner,
                key=f"{history.tag}/{kind}-{owner.pk}{extension}",
                original_name=name,
                content_type=content_type,
                size=size,
                sha256=f"{owner.pk:064x}",
                category=category,
                scan_status=ScanStatus.CLEAN,
                created_at=owner.date_joined if by_joining else history.now,
                updated_at=owner.date_joined if by_joining else history.now,
            )
            for owner in owners
        ],
        batch_size=BATCH,
    )


def _seed_exports(history: _History) -> None:
    """A data export ZIP for one client in ten (the rest never asked)."""
    asked = history.clients[::10]
    zips = _clean_files_of(
        history, asked, "export", ".zip", "elite-data-export.zip", "application/zip", 50_000, FileCategory.DATA_EXPORT
    )
    DataExport.objects.bulk_create(
        [
            DataExport(
                user=client,
                status=ExportStatus.READY,
                asset=asset,
                finished_at=history.now,
                created_at=history.now,
                updated_at=history.now,
            )
            for client, asset in zip(asked, zips, strict=True)
        ],
        batch_size=BATCH,
    )


def _seed_chat_and_deliveries(history: _History, orders: int) -> None:
    """A first message (read by the coach) in the first 200 threads, the first delivery of every
    delivered order, and declines of up to 200 rejected requests."""
    by_order, now = history.by_order, history.now
    thread_ids = list(MessageThread.objects.filter(order__in=history.orders[:200]).values_list("pk", "order_id"))
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
            for order in history.orders
            if order.delivered_at
        ],
        batch_size=BATCH,
    )
    unanswered = [r for r in history.requests[orders:] if r.status == RequestStatus.REJECTED][:200]
    RequestDecline.objects.bulk_create(
        [
            RequestDecline(request=r, coach=r.coach, reason="Busy", created_at=r.created_at, updated_at=now)
            for r in unanswered
        ],
        batch_size=BATCH,
    )


def _seed_disputes_and_api_sessions(history: _History) -> None:
    """Both sides' statements on the disputed orders, and API refresh tokens for some clients."""
    statements = []
    for order in history.orders:
        if order.status != OrderStatus.DISPUTED:
            continue
        at = (order.delivered_at or order.paid_at or order.created_at) + dt.timedelta(hours=6)
        statements.append(
            DisputeStatement(
                order=order,
                author_id=order.coach_id,
                role=DisputeRole.STATEMENT,
                created_at=at,
                body="I delivered what the brief asked for; the timeline shows each revision.",
            )
        )
        statements.append(
            DisputeStatement(
                order=order, author_id=order.client_id, role=DisputeRole.ANSWER, created_at=at + dt.timedelta(hours=3),
                body="The summary still does not match the roles I am applying for.",
            )
        )  # fmt: skip
    DisputeStatement.objects.bulk_create(statements, batch_size=BATCH)
    history.counts["dispute_statements"] = len(statements)
    tokens = [
        ApiRefreshToken(
            user=client,
            family=uuid.UUID(int=history.rng.getrandbits(128)),
            token_hash=f"{history.tag}-{index:06d}".ljust(64, "0")[:64],
            created_at=history.now - dt.timedelta(days=1),
            expires_at=history.now + dt.timedelta(days=13),
            token_version=client.token_version,
        )
        for index, client in enumerate(history.clients[:20])
    ]
    ApiRefreshToken.objects.bulk_create(tokens, batch_size=BATCH)
    history.counts["api_refresh_tokens"] = len(tokens)


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


def _sent_emails(notes: list[Notification], tag: str) -> list[SentEmail]:
    """The notifications' emails as the outbox records them once sent (notifications.services.deliver_once)."""
    return [
        SentEmail(
            key=f"{tag}notification:{note.pk}",
            description=f"{note.kind} to user {note.user_id}",
            attempts=1,
            sent_at=note.created_at,
            created_at=note.created_at,
            updated_at=note.created_at,
        )
        for note in notes
    ]
