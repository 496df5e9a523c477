"""Every move of DESIGN.md §5: the allowed actor succeeds; a refused actor or state changes nothing."""

import pytest

from core.exceptions import InvalidState, NotPermitted
from orders import services
from orders.models import Order, OrderEvent, OrderStatus
from orders.tests.factories import make_order
from requests_app.models import RequestStatus
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def _state(order):
    order.refresh_from_db()
    return order.status, order.events.count()


def _delivered(order):
    services.mark_paid(order.pk, actor=None)
    return services.deliver(order.pk, actor=order.coach, note="Here it is")


def _disputed(order):
    services.mark_paid(order.pk, actor=None)
    return services.open_dispute(order.pk, actor=order.client, reason="Not what we agreed")


# --- request pending → order pending (coach accepts) ------------------------------------------


def test_coach_accepts_request_and_order_is_created(client_user, coach_user):
    service_request = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    order = services.accept_request(service_request.pk, actor=coach_user)
    service_request.refresh_from_db()
    assert service_request.status == RequestStatus.ACCEPTED
    assert order.status == OrderStatus.PENDING
    assert order.amount_minor == service_request.price_minor
    assert [e.kind for e in order.events.all()] == ["created"]


def test_other_coach_cannot_accept_request_addressed_to_someone_else(client_user, coach_user, other_coach):
    service_request = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    with pytest.raises(NotPermitted):
        services.accept_request(service_request.pk, actor=other_coach)
    service_request.refresh_from_db()
    assert service_request.status == RequestStatus.PENDING
    assert not Order.objects.exists()


def test_client_cannot_accept_a_request(client_user, coach_user):
    service_request = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    with pytest.raises(NotPermitted):
        services.accept_request(service_request.pk, actor=client_user)
    assert not Order.objects.exists()


def test_accepting_a_request_no_longer_pending_is_refused(client_user, coach_user):
    service_request = ServiceRequestFactory(
        client=client_user, coach=coach_user.coach_profile, status=RequestStatus.WITHDRAWN
    )
    with pytest.raises(InvalidState, match="withdrawn"):
        services.accept_request(service_request.pk, actor=coach_user)
    assert not Order.objects.exists()


def test_open_request_taken_once(client_user, coach_user, other_coach):
    service_request = ServiceRequestFactory(client=client_user, coach=None)
    order = services.accept_request(service_request.pk, actor=coach_user)
    assert order.coach == coach_user
    assert order.amount_minor == coach_user.coach_profile.services.get().price_minor
    with pytest.raises(InvalidState, match="already been taken"):
        services.accept_request(service_request.pk, actor=other_coach)
    assert Order.objects.count() == 1


# --- order pending → in_progress (payment captured) --------------------------------------------


def test_system_marks_paid(order):
    services.mark_paid(order.pk, actor=None)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert order.paid_at is not None


def test_staff_marks_paid_and_it_is_audited(order, staff_user):
    from audit.models import AuditLog

    services.mark_paid(order.pk, actor=staff_user)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert AuditLog.objects.filter(action="order.mark_paid", target_id=str(order.pk), actor=staff_user).exists()


@pytest.mark.parametrize("who", ["client", "coach"])
def test_parties_cannot_mark_their_own_order_paid(order, who):
    before = _state(order)
    with pytest.raises(NotPermitted):
        services.mark_paid(order.pk, actor=getattr(order, who))
    assert _state(order) == before


def test_paid_order_cannot_be_paid_again(paid_order):
    before = _state(paid_order)
    with pytest.raises(InvalidState):
        services.mark_paid(paid_order.pk, actor=None)
    assert _state(paid_order) == before


# --- order pending → cancelled -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["client", "coach"])
def test_parties_can_cancel_an_unpaid_order(order, who):
    services.cancel_order(order.pk, actor=getattr(order, who), reason="Changed plans")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancelled_at is not None
    assert order.events.last().note == "Changed plans"


def test_stranger_cannot_cancel(order, other_client):
    before = _state(order)
    with pytest.raises(NotPermitted):
        services.cancel_order(order.pk, actor=other_client)
    assert _state(order) == before


def test_paid_order_cannot_be_cancelled(paid_order):
    before = _state(paid_order)
    with pytest.raises(InvalidState):
        services.cancel_order(paid_order.pk, actor=paid_order.client)
    assert _state(paid_order) == before


# --- in_progress → delivered --------------------------------------------------------------------


def test_coach_delivers_a_numbered_delivery(paid_order):
    services.deliver(paid_order.pk, actor=paid_order.coach, note="First draft")
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.DELIVERED
    assert paid_order.delivered_at is not None
    assert list(paid_order.deliveries.values_list("number", "note")) == [(1, "First draft")]


def test_client_cannot_deliver(paid_order):
    before = _state(paid_order)
    with pytest.raises(NotPermitted):
        services.deliver(paid_order.pk, actor=paid_order.client)
    assert _state(paid_order) == before
    assert not paid_order.deliveries.exists()


def test_unpaid_order_cannot_be_delivered(order):
    before = _state(order)
    with pytest.raises(InvalidState):
        services.deliver(order.pk, actor=order.coach)
    assert _state(order) == before
    assert not order.deliveries.exists()


# --- delivered → in_progress (revision) -------------------------------------------------------


def test_client_requests_a_revision_while_rounds_remain(order):
    _delivered(order)
    services.request_revision(order.pk, actor=order.client, note="Shorter summary please")
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert order.revisions_used == 1
    services.deliver(order.pk, actor=order.coach, note="Second draft")
    assert list(order.deliveries.values_list("number", flat=True)) == [1, 2]


def test_each_delivery_after_the_first_is_told_apart_in_the_clients_inbox(order):
    from notifications.models import Notification

    _delivered(order)
    services.request_revision(order.pk, actor=order.client, note="Shorter summary please")
    services.deliver(order.pk, actor=order.coach, note="Second draft")
    texts = list(
        Notification.objects.filter(user=order.client, kind="order_deliver")
        .order_by("id")
        .values_list("text", flat=True)
    )
    assert texts == [
        f"Order #{order.pk} “{order.title}” was delivered. Review the files and accept or ask for a revision.",
        f"Order #{order.pk} “{order.title}”: revised delivery 2 is in. Review the files and accept or ask for a revision.",
    ]


def test_coach_cannot_request_a_revision(order):
    _delivered(order)
    before = _state(order)
    with pytest.raises(NotPermitted):
        services.request_revision(order.pk, actor=order.coach, note="x" * 20)
    assert _state(order) == before


def test_no_revision_once_rounds_are_used(order):
    Order.objects.filter(pk=order.pk).update(revisions_included=0)
    order.refresh_from_db()
    _delivered(order)
    assert "request_revision" not in services.allowed_transitions(order, order.client)
    before = _state(order)
    with pytest.raises(InvalidState, match="revision rounds"):
        services.request_revision(order.pk, actor=order.client, note="again")
    assert _state(order) == before


def test_revision_refused_before_delivery(paid_order):
    before = _state(paid_order)
    with pytest.raises(InvalidState):
        services.request_revision(paid_order.pk, actor=paid_order.client, note="too early")
    assert _state(paid_order) == before


# --- delivered → completed ----------------------------------------------------------------------


def test_client_accepts_delivery(order):
    _delivered(order)
    services.accept_delivery(order.pk, actor=order.client)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.completed_at is not None


def test_coach_cannot_accept_their_own_delivery(order):
    _delivered(order)
    before = _state(order)
    with pytest.raises(NotPermitted):
        services.accept_delivery(order.pk, actor=order.coach)
    assert _state(order) == before


def test_accepting_before_delivery_is_refused(paid_order):
    before = _state(paid_order)
    with pytest.raises(InvalidState):
        services.accept_delivery(paid_order.pk, actor=paid_order.client)
    assert _state(paid_order) == before


# --- in_progress|delivered → disputed ----------------------------------------------------------


@pytest.mark.parametrize("who", ["client", "coach"])
def test_parties_open_a_dispute_while_in_progress(paid_order, who):
    services.open_dispute(paid_order.pk, actor=getattr(paid_order, who), reason="We disagree")
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.DISPUTED


def test_client_opens_a_dispute_after_delivery(order):
    _delivered(order)
    services.open_dispute(order.pk, actor=order.client, reason="Files are empty")
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED


def test_stranger_and_staff_cannot_open_a_dispute(paid_order, other_client, staff_user):
    before = _state(paid_order)
    for actor in (other_client, staff_user):
        with pytest.raises(NotPermitted):
            services.open_dispute(paid_order.pk, actor=actor, reason="x")
    assert _state(paid_order) == before


def test_no_dispute_on_an_unpaid_order(order):
    before = _state(order)
    with pytest.raises(InvalidState):
        services.open_dispute(order.pk, actor=order.client, reason="x")
    assert _state(order) == before


# --- disputed → completed | cancelled (staff) -------------------------------------------------


def test_staff_resolves_by_releasing(order, staff_user):
    _disputed(order)
    services.resolve_dispute(order.pk, actor=staff_user, release=True, note="Work matches the brief")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED


def test_staff_resolves_by_refunding(order, staff_user):
    _disputed(order)
    services.resolve_dispute(order.pk, actor=staff_user, release=False, note="Refunded")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


@pytest.mark.parametrize("who", ["client", "coach"])
def test_parties_cannot_resolve_their_own_dispute(order, who):
    _disputed(order)
    before = _state(order)
    with pytest.raises(NotPermitted):
        services.resolve_dispute(order.pk, actor=getattr(order, who), release=who == "coach")
    assert _state(order) == before


def test_resolution_refused_when_not_disputed(paid_order, staff_user):
    before = _state(paid_order)
    with pytest.raises(InvalidState):
        services.resolve_dispute(paid_order.pk, actor=staff_user, release=True)
    assert _state(paid_order) == before


# --- the table itself ---------------------------------------------------------------------------


def test_every_status_change_writes_one_event(order, staff_user):
    _delivered(order)
    services.request_revision(order.pk, actor=order.client, note="Tweak")
    services.deliver(order.pk, actor=order.coach)
    services.accept_delivery(order.pk, actor=order.client)
    rows = list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status"))
    assert rows == [
        ("", "pending"),
        ("pending", "in_progress"),
        ("in_progress", "delivered"),
        ("delivered", "in_progress"),
        ("in_progress", "delivered"),
        ("delivered", "completed"),
    ]


def test_allowed_transitions_per_viewer(order, other_client, staff_user):
    assert services.allowed_transitions(order, order.client) == ["cancel"]
    assert services.allowed_transitions(order, order.coach) == ["cancel"]
    assert services.allowed_transitions(order, other_client) == []
    assert set(services.allowed_transitions(order, staff_user)) == {"cancel", "mark_paid"}
    order = _delivered(order)
    assert services.allowed_transitions(order, order.client) == ["request_revision", "accept_delivery", "open_dispute"]
    assert services.allowed_transitions(order, order.coach) == ["open_dispute"]


def test_the_system_makes_only_the_job_moves(order):
    """actor=None is the system (beat jobs, webhooks): cancel unpaid, mark paid, complete silent deliveries."""
    with pytest.raises(NotPermitted):
        services.deliver(order.pk, actor=None)
    services.mark_paid(order.pk, actor=None)
    for refused in (
        lambda: services.request_revision(order.pk, actor=None, note="x"),
        lambda: services.open_dispute(order.pk, actor=None, reason="x"),
        lambda: services.resolve_dispute(order.pk, actor=None, release=True),
    ):
        with pytest.raises(NotPermitted):
            refused()
    services.deliver(order.pk, actor=order.coach)
    services.accept_delivery(order.pk, actor=None)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    other = make_order(client=order.client, coach=order.coach)
    services.cancel_order(other.pk, actor=None, reason="Unpaid")
    other.refresh_from_db()
    assert other.status == OrderStatus.CANCELLED
