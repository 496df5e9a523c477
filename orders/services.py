"""Every change to an order goes through here (DESIGN.md §5).

`TRANSITIONS` is the one table of allowed moves: which party may make which move from which
state. A move not in it raises InvalidState (409) or NotPermitted (403) and changes nothing.
Each move locks the order row, writes an OrderEvent, sends `order_status_changed` inside the
transaction (payments writes ledger rows there) and schedules notifications after commit.

Signature: `verb(target_id, *, actor, …, ip_address=None)`. Every service here locks the row it
changes, so the target is its id (order, review or request id); `actor` is the acting user (None:
the system, a job or payments' fulfilment); staff moves record `ip_address` on their audit row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Count, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.services import record as audit
from coaches.models import CoachProfile, CoachService
from coaches.services import recompute_response_time, set_rating
from core import sqlmemo, writes
from core.exceptions import DomainError, InvalidState, NotPermitted
from core.money import format_money
from files.models import FileAsset, FileCategory
from files.services import assets_for_attach
from notifications.services import notify, notify_many, notify_many_writes
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.services import each_still_due, mark_accepted

from .models import DisputeRole, DisputeStatement, Order, OrderEvent, OrderStatus, Review
from .signals import order_created, order_status_changed

CLIENT, COACH, STAFF, SYSTEM = "client", "coach", "staff", "system"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    parties: frozenset[str]
    timestamp_field: str | None = None


def _t(sources, target, parties, timestamp_field=None) -> Transition:
    return Transition(frozenset(sources), target, frozenset(parties), timestamp_field)


S = OrderStatus
TRANSITIONS: dict[str, Transition] = {
    "cancel": _t({S.PENDING}, S.CANCELLED, {CLIENT, COACH, STAFF, SYSTEM}, "cancelled_at"),
    "mark_paid": _t({S.PENDING}, S.IN_PROGRESS, {STAFF, SYSTEM}, "paid_at"),
    "deliver": _t({S.IN_PROGRESS}, S.DELIVERED, {COACH}, "delivered_at"),
    "request_revision": _t({S.DELIVERED}, S.IN_PROGRESS, {CLIENT}),
    "accept_delivery": _t({S.DELIVERED}, S.COMPLETED, {CLIENT, SYSTEM}, "completed_at"),
    "open_dispute": _t({S.IN_PROGRESS, S.DELIVERED}, S.DISPUTED, {CLIENT, COACH}),
    "resolve_release": _t({S.DISPUTED}, S.COMPLETED, {STAFF}, "completed_at"),
    "resolve_refund": _t({S.DISPUTED}, S.CANCELLED, {STAFF}, "cancelled_at"),
}


def party_of(order: Order, user: User | None) -> str | None:
    """The role `user` plays on this order: client, coach, staff, system (None user) or None."""
    if user is None:
        return SYSTEM
    if user.pk == order.client_id:
        return CLIENT
    if user.pk == order.coach_id:
        return COACH
    if user.is_staff:
        return STAFF
    return None


def allowed_transitions(order: Order, user: User | None) -> list[str]:
    """The moves `user` may make on `order` right now (the order page shows only these)."""
    party = party_of(order, user)
    moves = [name for name, move in TRANSITIONS.items() if order.status in move.sources and party in move.parties]
    if "request_revision" in moves and order.revisions_left == 0:
        moves.remove("request_revision")
    return moves


def _check(order: Order, name: str, actor) -> Transition:
    move = TRANSITIONS[name]
    party = party_of(order, actor)
    if party not in move.parties:
        raise NotPermitted("You are not allowed to do that on this order.")
    if order.status not in move.sources:
        raise InvalidState(f"This order is {order.get_status_display().lower()}; that action is not possible any more.")
    return move


def check_move(order: Order, name: str, actor: User | None) -> None:
    """Raise NotPermitted/InvalidState now if `actor` may not make this move (views call it before uploads)."""
    _check(order, name, actor)
    if name == "request_revision" and order.revisions_left == 0:
        raise InvalidState("All included revision rounds have been used.")


def _apply(
    order: Order,
    name: str,
    *,
    actor: User | None,
    note: str = "",
    kind: str = "status",
    ip_address: str | None = None,
    message: str | None = None,
) -> Order:
    """Move a locked order along `name`, write its event and tell the listeners. Caller holds the lock.

    `message` replaces the move's usual notification text where the move has several outcomes."""
    move = _check(order, name, actor)
    from_status = order.status
    order.status = move.target
    fields = ["status", "updated_at"]
    if move.timestamp_field:
        setattr(order, move.timestamp_field, timezone.now())
        fields.append(move.timestamp_field)
    order.save(update_fields=fields)
    OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=move.target, kind=kind, note=note, actor=actor
    )
    if actor is not None and actor.is_staff and party_of(order, actor) == STAFF:
        audit(
            f"order.{name}",
            order,
            actor=actor,
            details={"from": from_status, "to": move.target, "note": note},
            ip_address=ip_address,
        )
    order_status_changed.send(
        sender=Order,
        order=order,
        from_status=from_status,
        to_status=move.target,
        transition=name,
        actor=actor,
        note=note,
    )
    _notify_parties(order, name, actor, message=message)
    return order


def _locked(order_id: int) -> Order:
    """The order, row-locked, with both parties (every move notifies them): one query, not three."""
    return Order.objects.select_for_update(of=("self",)).select_related("client", "coach").get(pk=order_id)


_MESSAGES = {
    "cancel": "Order #{id} “{title}” was cancelled.",
    "mark_paid": "Order #{id} “{title}” is paid; work has started.",
    "deliver": "Order #{id} “{title}” was delivered. Review the files and accept or ask for a revision.",
    "request_revision": "A revision was requested on order #{id} “{title}”.",
    "accept_delivery": "Order #{id} “{title}” is complete.",
    "open_dispute": "A dispute was opened on order #{id} “{title}”. Our team will look at it.",
    "resolve_release": "The dispute on order #{id} “{title}” was resolved: the whole payment goes to the coach.",
    "resolve_refund": "The dispute on order #{id} “{title}” was resolved: the client is refunded in full.",
}
_REDELIVERED = (
    "Order #{id} “{title}”: revised delivery {number} is in. Review the files and accept or ask for a revision."
)


def _notify_parties(order: Order, name: str, actor, *, message: str | None = None) -> None:
    text, link, recipients = _party_notices(order, name, actor, message=message)
    notify_many(recipients, f"order_{name}", text, link=link)
    if name == "open_dispute":
        _notify_staff(order, f"order_{name}", f"Dispute opened on order #{order.pk} “{order.title}”.")


def _party_notices(order: Order, name: str, actor, *, message: str | None = None):
    """The text, link and (recipient, email context) pairs of a move's notification to the parties."""
    text = message or _MESSAGES[name].format(id=order.pk, title=order.title)
    link = reverse("orders:detail", args=[order.pk])
    recipients = [
        (
            user,
            {
                "order_id": order.pk,
                "order_title": order.title,
                "is_client": user.pk == order.client_id,
                "revisions_left": order.revisions_left,
                "auto_complete_days": settings.ORDER_AUTO_COMPLETE_DAYS,
            },
        )
        for user in (order.client, order.coach)
        if actor is None or user.pk != actor.pk
    ]
    return text, link, recipients


def _notify_staff(order: Order, kind: str, text: str) -> None:
    for staff in User.objects.filter(is_staff=True, is_active=True, account_status="active"):
        notify(
            staff,
            kind,
            text,
            link=reverse("admin:orders_order_change", args=[order.pk]),
            context={"order_id": order.pk},
        )


# --- Creating an order ------------------------------------------------------------------


def accept_request(request_id: int, *, actor: User) -> Order:
    """A coach accepts a pending request: the request is locked so two coaches get one order."""
    coach = actor
    profile = getattr(coach, "coach_profile", None)
    if profile is None or not coach.is_coach:
        raise NotPermitted("Only coaches can accept requests.")
    with transaction.atomic():
        service_request = ServiceRequest.objects.select_for_update().get(pk=request_id)
        # An open request someone already took has its coach filled in: that is "taken", not "not yours".
        if service_request.coach_id not in (None, profile.pk) and not service_request.posted_open:
            raise NotPermitted("This request is addressed to another coach.")
        if service_request.status != RequestStatus.PENDING:
            if service_request.status == RequestStatus.ACCEPTED:
                raise InvalidState("Sorry, this request has already been taken.")
            raise InvalidState(
                f"This request is {service_request.get_status_display().lower()} and can no longer be accepted."
            )
        service = CoachService.objects.filter(
            coach=profile, service_type=service_request.service_type, is_active=True
        ).first()
        if service is None:
            raise InvalidState("You do not offer this service any more, so you cannot accept this request.")
        service_request = mark_accepted(service_request.pk, actor=coach, service=service)
        assert service_request.price_minor is not None  # mark_accepted snapshots the price
        order = Order.objects.create(
            request=service_request,
            client=service_request.client,
            coach=coach,
            service_type=service_request.service_type,
            title=service_request.title,
            amount_minor=service_request.price_minor,
            currency=service_request.currency,
            deadline=service_request.deadline,
            revisions_included=service.revisions_included,
        )
        OrderEvent.objects.create(
            order=order,
            to_status=OrderStatus.PENDING,
            kind="created",
            actor=coach,
            note="Request accepted; waiting for payment.",
        )
        order_created.send(sender=Order, order=order)
        notify(
            service_request.client,
            "request_accepted",
            f"{coach.display_name} accepted your request “{order.title}”. Pay to start the work.",
            link=reverse("orders:detail", args=[order.pk]),
            context={"order_id": order.pk},
        )
        transaction.on_commit(lambda: recompute_response_time(profile))
    return order


# --- Moves ---------------------------------------------------------------------------------


def cancel_order(order_id: int, *, actor: User | None, reason: str = "", ip_address: str | None = None) -> Order:
    with transaction.atomic():
        return _apply(_locked(order_id), "cancel", actor=actor, note=reason, ip_address=ip_address)


def mark_paid(
    order_id: int,
    *,
    actor: User | None,
    note: str = "",
    ip_address: str | None = None,
    locked: Order | None = None,
) -> Order:
    """Payment captured (payments calls this from its fulfilment with actor=None, staff from the console).

    Inside the caller's transaction (the fulfilment, which holds the payment lock) it opens no
    savepoint: the move is checked before anything is written, so a refusal leaves nothing to
    roll back and the caller's transaction stays usable (two statements fewer per webhook).
    `locked`: this order as the caller already row-locked it in this transaction, with client and
    coach loaded (the fulfilment locks it with the payment), so it is not read and locked again.
    """
    if transaction.get_connection().in_atomic_block:
        order = locked if locked is not None and locked.pk == order_id else _locked(order_id)
        _check(order, "mark_paid", actor)
        return _apply(order, "mark_paid", actor=actor, note=note or "Payment received.", ip_address=ip_address)
    with transaction.atomic():
        return _apply(
            _locked(order_id), "mark_paid", actor=actor, note=note or "Payment received.", ip_address=ip_address
        )


def mark_paid_writes(order: Order, *, note: str, after: str) -> list[writes.Write]:
    """`mark_paid(order.pk, locked=order, actor=None, note=note)` as CTEs of a caller's statement (payments'
    one-statement fulfilment, core.writes): the order's move, its timeline row and both parties'
    notifications, then, once it ran, the same instance, post_saves, order_status_changed and
    after-commit effects as `_apply`. Checked here, before anything is written."""
    move = _check(order, "mark_paid", None)
    now = timezone.now()
    from_status = order.status
    changes: dict[str, object] = {"status": move.target, "updated_at": now, str(move.timestamp_field): now}
    event_values = {
        "from_status": from_status,
        "to_status": move.target,
        "kind": "status",
        "note": note,
        "actor": None,
        "created_at": now,
    }
    event = OrderEvent(order=order, **event_values)

    def moved(results: writes.Results) -> None:
        for field, value in changes.items():
            setattr(order, field, value)
        writes.saved(order, created=False, update_fields=list(changes))

    def recorded(results: writes.Results) -> None:
        event.pk = results["order_event"][0]
        writes.saved(event, created=True)
        order_status_changed.send(
            sender=Order,
            order=order,
            from_status=from_status,
            to_status=move.target,
            transition="mark_paid",
            actor=None,
            note=note,
        )

    text, link, recipients = _party_notices(order, "mark_paid", None)
    return [
        writes.update("paid_order", Order, order.pk, changes, after=after, done=moved),
        writes.insert(
            "order_event", OrderEvent, {"order": order.pk, **event_values}, after="paid_order", done=recorded
        ),
        *notify_many_writes("order_notice", recipients, "order_mark_paid", text, link=link, after="paid_order"),
    ]


def deliver(
    order_id: int, *, actor: User, note: str = "", files: Iterable[FileAsset] = (), ip_address: str | None = None
) -> Order:
    """The coach delivers: a numbered Delivery keeps every round's files."""
    from .models import Delivery

    with transaction.atomic():
        order = _locked(order_id)
        _check(order, "deliver", actor)
        locked_files = _lock_live_files({asset.pk for asset in files})
        number = order.deliveries.count() + 1
        delivery = Delivery.objects.create(order=order, number=number, note=note, created_by=actor)
        if locked_files:
            delivery.files.set(locked_files)
        # From the second round on the text says which one: a client's inbox otherwise lists identical lines.
        again = None if number == 1 else _REDELIVERED.format(id=order.pk, title=order.title, number=number)
        return _apply(
            order, "deliver", actor=actor, note=note or f"Delivery {number}.", ip_address=ip_address, message=again
        )


def _lock_live_files(file_ids: Iterable[int]) -> list[FileAsset]:
    """Lock the files being attached: files.services.delete_upload locks the same rows, so a file is
    either deleted before it is attached (refused here) or attached before it is deleted (refused there)."""
    wanted = sorted(set(file_ids))
    locked = list(FileAsset.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    if any(asset.deleted_at is not None for asset in locked) or len(locked) != len(wanted):
        raise InvalidState("One of the files was deleted before it could be attached. Upload it again.")
    return locked


def request_revision(order_id: int, *, actor: User, note: str, ip_address: str | None = None) -> Order:
    with transaction.atomic():
        order = _locked(order_id)
        _check(order, "request_revision", actor)
        if order.revisions_left == 0:
            raise InvalidState("All included revision rounds have been used.")
        order.revisions_used += 1
        order.save(update_fields=["revisions_used", "updated_at"])
        return _apply(order, "request_revision", actor=actor, note=note, ip_address=ip_address)


def accept_delivery(order_id: int, *, actor: User | None, note: str = "", ip_address: str | None = None) -> Order:
    with transaction.atomic():
        return _apply(_locked(order_id), "accept_delivery", actor=actor, note=note, ip_address=ip_address)


def open_dispute(order_id: int, *, actor: User, reason: str, ip_address: str | None = None) -> Order:
    with transaction.atomic():
        return _apply(_locked(order_id), "open_dispute", actor=actor, note=reason, ip_address=ip_address)


def resolve_dispute(
    order_id: int,
    *,
    actor: User,
    release: bool,
    refunded_minor: int = 0,
    note: str = "",
    ip_address: str | None = None,
) -> Order:
    """Staff settle a dispute. Money (refunds) is moved by the payments service before this.

    Three outcomes, each told as it is on the timeline and to both parties: `release` with nothing
    refunded pays the coach everything; `release` after `refunded_minor` went back to the client is a
    partial refund (the rest goes to the coach); not `release` is a full refund (order cancelled)."""
    with transaction.atomic():
        order = _locked(order_id)
        if not release:
            return _apply(order, "resolve_refund", actor=actor, note=note, ip_address=ip_address)
        if not refunded_minor:
            return _apply(order, "resolve_release", actor=actor, note=note, ip_address=ip_address)
        refunded = format_money(refunded_minor, order.currency)
        outcome = f"{refunded} was refunded to the client; the rest of the payment goes to the coach."
        return _apply(
            order,
            "resolve_release",
            actor=actor,
            note=f"{outcome} {note}".strip(),
            kind="dispute_partial_refund",
            ip_address=ip_address,
            message=(
                f"The dispute on order #{order.pk} “{order.title}” was resolved: {refunded} is refunded to "
                "the client and the rest of the payment goes to the coach."
            ),
        )


def claim_resolution(order_id: int, *, actor: User) -> Order:
    """Stamp a disputed order as being resolved by `actor` (payments.services.disputes decides, under
    the same row lock, whether an earlier claim may be taken over)."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can resolve disputes.")
    order = _locked(order_id)
    order.resolution_claimed_at = timezone.now()
    order.save(update_fields=["resolution_claimed_at", "updated_at"])
    return order


def release_resolution(order_id: int, *, actor: User) -> None:
    """A resolution failed before it moved the order (the provider refused the refund): open the
    dispute to be resolved again."""
    Order.objects.filter(pk=order_id, status=S.DISPUTED).update(resolution_claimed_at=None, updated_at=timezone.now())


# --- Disputes hear both sides ---------------------------------------------------------------
# The side that did not open the dispute gives a statement (DISPUTE_STATEMENT_DAYS); the opener, whose
# reason is on the timeline, may then answer it once (DISPUTE_ANSWER_DAYS). Staff read all of it.


@dataclass(frozen=True)
class DisputeStage:
    opened_event: OrderEvent
    statement: DisputeStatement | None
    answer: DisputeStatement | None

    @property
    def opener_id(self) -> int | None:
        return self.opened_event.actor_id

    @property
    def statement_due(self) -> datetime:
        return self.opened_event.created_at + timedelta(days=settings.DISPUTE_STATEMENT_DAYS)

    @property
    def answer_due(self) -> datetime | None:
        if self.statement is None:
            return None
        return self.statement.created_at + timedelta(days=settings.DISPUTE_ANSWER_DAYS)

    def role_of(self, order: Order, user: User | None) -> str | None:
        """STATEMENT for the party who did not open the dispute, ANSWER for the opener, else None."""
        if user is None or user.pk not in (order.client_id, order.coach_id):
            return None
        return DisputeRole.ANSWER if user.pk == self.opener_id else DisputeRole.STATEMENT

    def waiting_on(self) -> tuple[str, datetime] | None:
        """(role, deadline) of the contribution still expected, or None once both are in."""
        if self.statement is None:
            return DisputeRole.STATEMENT, self.statement_due
        if self.answer is None and self.answer_due is not None:
            return DisputeRole.ANSWER, self.answer_due
        return None


def _reachable_from(status: str) -> frozenset[str]:
    """`status` and every status TRANSITIONS can lead to from it."""
    seen, todo = {status}, [status]
    while todo:
        source = todo.pop()
        for move in TRANSITIONS.values():
            if source in move.sources and move.target not in seen:
                seen.add(move.target)
                todo.append(move.target)
    return frozenset(seen)


# An order in any other status (pending, in progress, delivered) was never disputed.
AFTER_A_DISPUTE = _reachable_from(S.DISPUTED)


def _dispute_opened(given) -> QuerySet:
    """The event that opened the order's dispute (the latest move into it from another status)."""
    events = OrderEvent.objects.filter(order_id=given["order"], to_status=S.DISPUTED).exclude(from_status=S.DISPUTED)
    return events.select_related("actor").order_by("-id")[:1]


def dispute_stage(order: Order, *, events: Iterable[OrderEvent] | None = None) -> DisputeStage | None:
    """Where the order's dispute stands (None if it was never disputed). Two queries, none for an
    order whose status no dispute can lead to; one when the caller has read every event of the order already
    (`events`, with their actors: the order page's timeline)."""
    if order.status not in AFTER_A_DISPUTE:
        return None
    if events is not None:  # what _dispute_opened reads, from the rows at hand
        moves = [e for e in events if e.to_status == S.DISPUTED and e.from_status != S.DISPUTED]
        opened = max(moves, key=lambda event: event.pk, default=None)
    else:
        # Compiled once per process and kept prepared (core.sqlmemo; by the order's id): every completed order's
        # page asked it, and on a miss built this queryset each time (issue 13).
        found: list[Any] = sqlmemo.instances(
            "dispute_stage: opened", _dispute_opened, {"order": order.pk}, prepare=True
        )
        opened = found[0] if found else None
    if opened is None:
        return None
    said = {
        statement.role: statement
        for statement in DisputeStatement.objects.filter(order=order).select_related("author").prefetch_related("files")
    }
    return DisputeStage(opened, said.get(DisputeRole.STATEMENT), said.get(DisputeRole.ANSWER))


def _check_turn(order: Order, stage: DisputeStage | None, actor: User, now: datetime) -> str:
    """The role `actor` speaks in now, or the reason they may not (403 stranger/staff, 409 otherwise)."""
    if party_of(order, actor) not in (CLIENT, COACH):
        raise NotPermitted("Only the client and the coach of this order give dispute statements.")
    if order.status != S.DISPUTED or stage is None:
        raise InvalidState("This order is not in dispute, so there is nothing to answer.")
    role = stage.role_of(order, actor)
    if role == DisputeRole.STATEMENT:
        if stage.statement is not None:
            raise InvalidState("You have already given your statement on this dispute.")
        due: datetime | None = stage.statement_due
    else:
        if stage.answer is not None:
            raise InvalidState("You have already answered the other side's statement.")
        if stage.statement is None:
            raise InvalidState("You can answer once the other side has given its statement.")
        due = stage.answer_due
    if due is not None and now > due:
        raise InvalidState(f"The deadline for this was {timezone.localtime(due):%d %b %Y, %H:%M}.")
    return str(role)


def check_dispute_turn(order: Order, actor: User) -> None:
    """Raise now if `actor` may not write a statement (the view calls it before storing uploads)."""
    _check_turn(order, dispute_stage(order), actor, timezone.now())


def submit_dispute_statement(
    order_id: int, *, actor: User, body: str, file_ids: Iterable[int] = (), ip_address: str | None = None
) -> DisputeStatement:
    """One side's statement (or the opener's one answer) with optional evidence files, under the order lock."""
    body = body.strip()
    if len(body) < 10:
        raise DomainError("Tell our team what happened in at least 10 characters.")
    with transaction.atomic():
        order = _locked(order_id)
        role = _check_turn(order, dispute_stage(order), actor, timezone.now())
        try:
            assets = assets_for_attach(actor, list(file_ids), FileCategory.DISPUTE_EVIDENCE)
        except ValidationError as exc:
            raise DomainError(" ".join(exc.messages)) from exc
        locked_files = _lock_live_files(asset.pk for asset in assets)
        statement = DisputeStatement.objects.create(order=order, author=actor, role=role, body=body[:4000])
        statement.files.set(locked_files)
        count = len(locked_files)
        evidence = f" with {count} file{'s' if count != 1 else ''}" if count else ""
        OrderEvent.objects.create(
            order=order,
            from_status=order.status,
            to_status=order.status,
            kind=f"dispute_{role}",
            note=f"{statement.get_role_display()} given{evidence}.",
            actor=actor,
        )
        other = order.client if actor.pk == order.coach_id else order.coach
        said = "gave their statement" if role == DisputeRole.STATEMENT else "answered your statement"
        notify(
            other,
            f"dispute_{role}",
            f"{actor.display_name} {said} on the dispute about order #{order.pk} “{order.title}”.",
            link=reverse("orders:detail", args=[order.pk]),
            context={"order_id": order.pk},
        )
        _notify_staff(order, f"dispute_{role}", f"New dispute {role} on order #{order.pk} “{order.title}”.")
    return statement


def chase_dispute_statements(now: datetime | None = None) -> int:
    """Remind the side whose statement or answer is due soon, and record once on the timeline when
    the deadline passed without it. Idempotent: each step is an OrderEvent kind looked up first."""
    now = now or timezone.now()
    before = timedelta(hours=settings.DISPUTE_REMINDER_HOURS_BEFORE)
    acted = 0
    for order_id in Order.objects.filter(status=S.DISPUTED).values_list("pk", flat=True):
        with transaction.atomic():
            order = Order.objects.select_for_update(of=("self",)).select_related("client", "coach").get(pk=order_id)
            stage = dispute_stage(order)
            waiting = stage.waiting_on() if order.status == S.DISPUTED and stage else None
            if stage is None or waiting is None:
                continue
            role, due = waiting
            opener, other = (
                (order.client, order.coach) if stage.opener_id == order.client_id else (order.coach, order.client)
            )
            party = opener if role == DisputeRole.ANSWER else other
            kind = f"dispute_{role}_missed" if now > due else f"dispute_{role}_reminder"
            if (now > due or now >= due - before) and not order.events.filter(kind=kind).exists():
                _chase(order, party, role, due, kind)
                acted += 1
    return acted


def _chase(order: Order, party: User, role: str, due: datetime, kind: str) -> None:
    what = "statement" if role == DisputeRole.STATEMENT else "answer"
    when = f"{timezone.localtime(due):%d %b %Y, %H:%M}"
    link = reverse("orders:detail", args=[order.pk])
    if kind.endswith("_missed"):
        note = f"No {what} from {party.display_name} by the deadline ({when})."
        _notify_staff(order, kind, f"Order #{order.pk}: {note}")
    else:
        note = f"Reminder sent to {party.display_name}: {what} due by {when}."
        notify(
            party,
            kind,
            f"Your {what} on the dispute about order #{order.pk} “{order.title}” is due by {when}.",
            link=link,
            context={"order_id": order.pk},
        )
    OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status, kind=kind, note=note)


# --- Jobs (idempotent: each acts only on orders still due once they are locked) -----------------


def auto_complete_silent_deliveries(now: datetime | None = None) -> int:
    """Complete orders delivered more than ORDER_AUTO_COMPLETE_DAYS ago with no client answer."""
    now = now or timezone.now()
    days = settings.ORDER_AUTO_COMPLETE_DAYS
    due = Order.objects.filter(status=S.DELIVERED, delivered_at__lte=now - timedelta(days=days))
    note = f"Completed automatically after {days} days without an answer."
    return each_still_due(due, lambda order: _apply(order, "accept_delivery", actor=None, note=note))


def escalate_overdue_orders(now: datetime | None = None) -> int:
    """In-progress orders past their deadline: tell the coach and staff, once (escalated_at)."""
    now = now or timezone.now()
    today = timezone.localdate(now)

    def escalate(order: Order) -> None:
        order.escalated_at = now
        order.save(update_fields=["escalated_at", "updated_at"])
        days = (today - order.deadline).days
        note = f"Past its deadline ({order.deadline:%d %b %Y}) by {days} day{'s' if days != 1 else ''}."
        OrderEvent.objects.create(
            order=order, from_status=order.status, to_status=order.status, kind="escalated", note=note
        )
        notify(
            order.coach,
            "order_overdue",
            f"Order #{order.pk} “{order.title}” is past its deadline. Deliver it or talk to your client.",
            link=reverse("orders:detail", args=[order.pk]),
            context={"order_id": order.pk},
        )
        _notify_staff(
            order,
            "order_escalated",
            f"Order #{order.pk} “{order.title}” ({order.coach.display_name}) is overdue: {note}",
        )

    due = Order.objects.filter(status=S.IN_PROGRESS, deadline__lt=today, escalated_at__isnull=True).select_related(
        "coach", "client"
    )
    return each_still_due(due, escalate)


def cancel_unpaid_orders(now: datetime | None = None) -> int:
    """Orders still unpaid ORDER_UNPAID_EXPIRY_DAYS after acceptance are cancelled by the system."""
    now = now or timezone.now()
    days = settings.ORDER_UNPAID_EXPIRY_DAYS
    due = Order.objects.filter(status=S.PENDING, created_at__lte=now - timedelta(days=days))
    note = f"Cancelled automatically: not paid within {days} days."
    return each_still_due(due, lambda order: _apply(order, "cancel", actor=None, note=note))


# --- Reviews ---------------------------------------------------------------------------------


def _refresh_rating(profile_id: int) -> None:
    """Recompute the coach's visible-review aggregates; the caller holds the profile row lock."""
    stats = Review.objects.filter(coach_id=profile_id, is_hidden=False).aggregate(avg=Avg("rating"), n=Count("id"))
    avg = Decimal(stats["avg"] or 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    set_rating(profile_id, average=avg, count=stats["n"])


def submit_review(order_id: int, *, actor: User, rating: int, comment: str = "") -> Review:
    """The client reviews a completed order once; the coach's rating moves in the same transaction."""
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise DomainError("Choose a rating from 1 to 5 stars.")
    client = actor
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("coach").get(pk=order_id)
        if order.client_id != client.pk:
            raise NotPermitted("Only the client of this order can review it.")
        if order.status != S.COMPLETED:
            raise InvalidState("You can review an order once it is completed.")
        if Review.objects.filter(order=order).exists():
            raise InvalidState("You have already reviewed this order.")
        profile = CoachProfile.objects.select_for_update().get(user_id=order.coach_id)
        review = Review.objects.create(
            order=order, client=client, coach=profile, rating=rating, comment=comment.strip()
        )
        _refresh_rating(profile.pk)
        OrderEvent.objects.create(
            order=order, kind="review", note=f"Reviewed: {rating}/5.", actor=client, to_status=order.status
        )
        notify(
            order.coach,
            "review_received",
            f"{client.display_name} left a {rating}-star review on order #{order.pk} “{order.title}”.",
            link=reverse("orders:detail", args=[order.pk]),
            context={"order_id": order.pk, "rating": rating},
        )
    return review


def reply_to_review(review_id: int, *, actor: User, reply: str) -> Review:
    """The reviewed coach answers once, publicly."""
    coach = actor
    reply = reply.strip()
    if not reply:
        raise DomainError("Write a reply before sending it.")
    with transaction.atomic():
        review = Review.objects.select_for_update(of=("self",)).select_related("order", "coach").get(pk=review_id)
        if review.coach.user_id != coach.pk:
            raise NotPermitted("Only the reviewed coach can reply to this review.")
        if review.replied_at is not None:
            raise InvalidState("You have already replied to this review.")
        review.reply = reply
        review.replied_at = timezone.now()
        review.save(update_fields=["reply", "replied_at", "updated_at"])
        notify(
            review.client,
            "review_reply",
            f"{coach.display_name} replied to your review of order #{review.order_id}.",
            link=reverse("orders:detail", args=[review.order_id]),
        )
    return review


def hide_review(review_id: int, *, actor: User, hidden: bool, ip_address: str | None = None) -> Review:
    """Staff hide (or show again) a review; hidden reviews leave the coach's rating. Audited."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can hide reviews.")
    with transaction.atomic():
        coach_id = Review.objects.values_list("coach_id", flat=True).get(pk=review_id)
        CoachProfile.objects.select_for_update().get(pk=coach_id)
        locked = Review.objects.select_for_update().get(pk=review_id)
        before = locked.is_hidden
        if before != hidden:
            locked.is_hidden = hidden
            locked.save(update_fields=["is_hidden", "updated_at"])
            _refresh_rating(locked.coach_id)
        audit(
            "review.hide" if hidden else "review.show",
            locked,
            actor=actor,
            details={"from": before, "to": hidden, "order_id": locked.order_id},
            ip_address=ip_address,
        )
    return locked
