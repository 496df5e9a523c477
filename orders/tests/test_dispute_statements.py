"""Disputes hear both sides: the other side's statement, the opener's one answer, deadlines and reminders."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from core.exceptions import DomainError, InvalidState, NotPermitted
from files.models import FileAsset, ScanStatus
from files.services import delete_upload, store_upload
from files.tests.samples import pdf_bytes, upload
from notifications.models import Notification
from orders import services, tasks
from orders.models import DisputeStatement, OrderEvent

pytestmark = pytest.mark.django_db

BODY = "I delivered on time; the client never answered my two messages."


def evidence(owner, name="evidence.pdf"):
    asset = store_upload(upload(pdf_bytes(), name), actor=owner, category="dispute_evidence")
    FileAsset.objects.filter(pk=asset.pk).update(scan_status=ScanStatus.CLEAN)
    return asset


@pytest.fixture
def disputed(paid_order):
    services.deliver(paid_order.pk, actor=paid_order.coach, note="v1")
    services.open_dispute(paid_order.pk, actor=paid_order.client, reason="The CV still has my old job title.")
    return paid_order


def _age_dispute(order, **delta):
    OrderEvent.objects.filter(order=order, to_status="disputed").update(
        created_at=timezone.now() - datetime.timedelta(**delta)
    )


def test_coach_states_with_evidence_and_client_answers_once(disputed, staff_user, local_media):
    coach, client = disputed.coach, disputed.client
    pdf = evidence(coach)
    statement = services.submit_dispute_statement(disputed.pk, actor=coach, body=BODY, file_ids=[pdf.pk])
    assert statement.role == "statement" and list(statement.files.all()) == [pdf]
    assert Notification.objects.filter(user=client, kind="dispute_statement").count() == 1
    assert Notification.objects.filter(user=staff_user, kind="dispute_statement").count() == 1
    # The client (the opener) may now read the evidence, and answer once.
    assert FileAsset.objects.visible_to(client).filter(pk=pdf.pk).exists()
    answer = services.submit_dispute_statement(disputed.pk, actor=client, body="The title is wrong on page 1.")
    assert answer.role == "answer"
    with pytest.raises(InvalidState, match="already answered"):
        services.submit_dispute_statement(disputed.pk, actor=client, body="And another thing to add here.")
    with pytest.raises(InvalidState, match="already given"):
        services.submit_dispute_statement(disputed.pk, actor=coach, body="A second statement is refused.")
    kinds = list(disputed.events.filter(kind__startswith="dispute_").values_list("kind", flat=True))
    assert kinds == ["dispute_statement", "dispute_answer"]
    # Evidence is kept with the dispute: its owner cannot delete it afterwards.
    with pytest.raises(InvalidState):
        delete_upload(pdf, actor=coach)


def test_unhappy_paths_change_nothing(disputed, paid_order, other_client, staff_user, local_media):
    with pytest.raises(InvalidState, match="once the other side"):
        services.submit_dispute_statement(disputed.pk, actor=disputed.client, body="Answering nothing yet.")
    with pytest.raises(NotPermitted):
        services.submit_dispute_statement(disputed.pk, actor=other_client, body=BODY)
    with pytest.raises(NotPermitted):
        services.submit_dispute_statement(disputed.pk, actor=staff_user, body=BODY)
    with pytest.raises(DomainError, match="10 characters"):
        services.submit_dispute_statement(disputed.pk, actor=disputed.coach, body="   short ")
    someone_elses = evidence(disputed.client)
    with pytest.raises(DomainError, match="not available"):
        services.submit_dispute_statement(disputed.pk, actor=disputed.coach, body=BODY, file_ids=[someone_elses.pk])
    _age_dispute(disputed, days=4)
    with pytest.raises(InvalidState, match="deadline"):
        services.submit_dispute_statement(disputed.pk, actor=disputed.coach, body=BODY)
    assert not DisputeStatement.objects.exists()


def test_no_statement_on_an_order_that_is_not_disputed(paid_order):
    with pytest.raises(InvalidState, match="not in dispute"):
        services.submit_dispute_statement(paid_order.pk, actor=paid_order.coach, body=BODY)


def test_reminder_then_missed_deadline_are_each_recorded_once(disputed, staff_user, settings):
    settings.DISPUTE_STATEMENT_DAYS, settings.DISPUTE_REMINDER_HOURS_BEFORE = 3, 24
    assert tasks.chase_dispute_statements.delay().get() == 0  # three days left: nothing yet
    _age_dispute(disputed, days=2, hours=1)
    assert tasks.chase_dispute_statements.delay().get() == 1
    assert tasks.chase_dispute_statements.delay().get() == 0
    assert Notification.objects.filter(user=disputed.coach, kind="dispute_statement_reminder").count() == 1
    _age_dispute(disputed, days=3, hours=1)
    assert tasks.chase_dispute_statements.delay().get() == 1
    assert tasks.chase_dispute_statements.delay().get() == 0
    missed = disputed.events.get(kind="dispute_statement_missed")
    assert disputed.coach.display_name in missed.note
    assert Notification.objects.filter(user=staff_user, kind="dispute_statement_missed").count() == 1


def test_the_opener_is_chased_for_the_answer_after_the_statement(disputed, settings):
    settings.DISPUTE_ANSWER_DAYS = 2
    statement = services.submit_dispute_statement(disputed.pk, actor=disputed.coach, body=BODY)
    DisputeStatement.objects.filter(pk=statement.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    assert services.chase_dispute_statements() == 1
    assert disputed.events.filter(kind="dispute_answer_missed").count() == 1
    assert services.chase_dispute_statements() == 0


def test_order_page_shows_both_sides_and_the_form_to_whoever_is_due(client, disputed, other_client, local_media):
    coach, buyer = disputed.coach, disputed.client
    client.force_login(coach)
    html = client.get(f"/orders/{disputed.pk}/").content.decode()
    assert "The CV still has my old job title." in html and 'id="dispute-statement-form"' in html
    assert "Give your statement by" in html
    pdf = evidence(coach)
    url = f"/orders/{disputed.pk}/dispute/statement/"
    assert client.post(url, {"body": "short"}).status_code == 400
    response = client.post(url, {"body": BODY, "attachment_ids": [pdf.pk]})
    assert response.status_code == 302
    assert client.post(url, {"body": BODY}).status_code == 409
    client.force_login(buyer)
    html = client.get(f"/orders/{disputed.pk}/").content.decode()
    assert BODY in html and "evidence.pdf" in html and "Answer the coach’s statement by" in html
    client.force_login(other_client)
    assert client.post(url, {"body": BODY}).status_code == 404
    assert client.get(f"/orders/{disputed.pk}/").status_code == 404


def test_console_resolve_page_shows_both_statements(client, disputed, staff_user, django_assert_max_num_queries):
    services.submit_dispute_statement(disputed.pk, actor=disputed.coach, body=BODY)
    client.force_login(staff_user)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("admin:orders_order_resolve_dispute", args=[disputed.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "The CV still has my old job title." in html and BODY in html and "none yet; due by" in html


def test_the_order_pages_timeline_gives_the_same_dispute_stage_as_its_own_read(disputed, staff_user):
    """dispute_stage(order, events=…) finds the opening move among the timeline's rows the order page read already:
    the same event (the latest move into the dispute) and statements as its own query finds, at every step."""
    from orders.models import Order

    def both(order):
        events = list(OrderEvent.objects.filter(order=order).select_related("actor"))
        return services.dispute_stage(order), services.dispute_stage(order, events=events)

    def same(order):
        read, given = both(Order.objects.get(pk=order.pk))
        assert (read is None) == (given is None)
        if read is not None:
            assert given.opened_event.pk == read.opened_event.pk and given.opened_event.actor == read.opened_event.actor
            assert (given.statement, given.answer) == (read.statement, read.answer)
        return read

    assert same(disputed).opened_event.to_status == "disputed"
    services.resolve_dispute(disputed.pk, actor=staff_user, release=True)
    assert same(disputed) is not None  # completed: the stage of the dispute that was
    OrderEvent.objects.filter(order=disputed, to_status="disputed").update(to_status="delivered")
    assert same(disputed) is None  # no move into a dispute on its timeline
