"""The order page's queries on a miss (issue 13): compiled once per process (core.sqlmemo), and still showing
what the ORM reads: the order for its parties only, its timeline, deliveries with their files in the same
order, the review, the payments the panel lists and the documents panel's versions."""

import datetime
import itertools

import pytest
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core.pages import users_changed
from documents import services as documents
from documents.models import Extraction, OrderRetention
from files.models import FileAsset, FileCategory, ScanStatus
from messaging import services as services_threads
from orders import services as orders
from orders.models import Delivery, Order, OrderEvent, Review
from orders.tests.factories import make_order
from payments.models import Payment
from payments.templatetags.payments_tags import order_payment_panel

pytestmark = pytest.mark.django_db
_keys = itertools.count()


def _asset(owner, name: str, category: str, *, age_minutes: int, deleted: bool = False, read: bool = False):
    asset = FileAsset.objects.create(
        owner=owner,
        key=f"test/order-page/{next(_keys)}",
        original_name=name,
        content_type="application/pdf",
        size=2048,
        sha256="0" * 64,
        category=category,
        scan_status=ScanStatus.CLEAN,
        deleted_at=timezone.now() if deleted else None,
    )
    # FileAsset's own order (newest first) differs from the id order here.
    FileAsset.objects.filter(pk=asset.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=age_minutes))
    if read:
        Extraction.objects.create(asset=asset, status="ok")
    return FileAsset.objects.get(pk=asset.pk)


def _delivered(client, coach, *, rounds: int):
    """An order delivered `rounds` times, each delivery with files out of id order (one deleted), accepted
    and reviewed, with payments the panel lists and one it leaves out; its request has CVs and another file."""
    order = make_order(client=client, coach=coach)
    order.request.attachments.add(
        _asset(client, "cv new.pdf", FileCategory.CV_UPLOAD, age_minutes=3, read=True),
        _asset(client, "cv old.pdf", FileCategory.CV_UPLOAD, age_minutes=90),
        _asset(client, "cv gone.pdf", FileCategory.CV_UPLOAD, age_minutes=50, deleted=True),
        _asset(client, "not a cv.pdf", FileCategory.DELIVERY, age_minutes=10),
    )
    orders.mark_paid(order.pk, actor=None)
    for number in range(1, rounds + 1):
        files = [
            _asset(coach, f"round {number} late.pdf", FileCategory.DELIVERY, age_minutes=5, read=True),
            _asset(coach, f"round {number} early.pdf", FileCategory.DELIVERY, age_minutes=500),
            _asset(coach, f"round {number} middle.pdf", FileCategory.DELIVERY, age_minutes=60),
        ]
        orders.deliver(order.pk, actor=coach, note=f"Round {number}", files=files)
        Delivery.objects.get(order=order, number=number).files.add(
            _asset(coach, f"round {number} removed.pdf", FileCategory.DELIVERY, age_minutes=30, deleted=True)
        )
        if number < rounds:
            orders.request_revision(order.pk, actor=client, note="Shorter, please")
    orders.accept_delivery(order.pk, actor=client)
    orders.submit_review(order.pk, actor=client, rating=4, comment="Good")
    for n, prefix in enumerate(("cs_", "pending_", "cs_")):
        Payment.objects.create(
            order=order,
            client=client,
            provider="stripe",
            provider_payment_id=f"{prefix}{order.pk}_{n}",
            amount_minor=order.amount_minor,
            currency=order.currency,
            status="captured" if n == 2 else "failed",
        )
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def two_orders(client_user, coach_user, other_client, other_coach):
    return _delivered(client_user, coach_user, rounds=2), _delivered(other_client, other_coach, rounds=3)


def _files(assets) -> list[tuple]:
    return [(a.pk, a.original_name, a.deleted_at is None) for a in assets]


def test_the_orders_rows_are_what_the_orm_reads(client, rf, two_orders, client_user):
    order, _other = two_orders
    client.force_login(client_user)
    context = client.get(reverse("orders:detail", args=[order.pk])).context
    expected = Delivery.objects.filter(order=order).order_by("number").prefetch_related("files")
    assert [(d.pk, d.number, d.note, d.created_by.email, _files(d.shown_files)) for d in context["deliveries"]] == [
        (d.pk, d.number, d.note, d.created_by.email, _files(d.files.all())) for d in expected
    ]
    assert len(expected) == 2 and len(expected[0].files.all()) == 4  # several files, one deleted, were compared
    events = OrderEvent.objects.filter(order=order).select_related("actor")
    assert [(e.pk, e.actor) for e in context["events"]] == [(e.pk, e.actor) for e in events] and len(events) > 4
    assert context["review"] == Review.objects.get(order=order)
    assert context["order"] == order and context["order"].coach.coach_profile == order.coach.coach_profile

    request = rf.get("/")
    request.user = client_user
    panel = order_payment_panel({"request": request}, order)["payments"]
    listed = Payment.objects.filter(order=order).exclude(provider_payment_id__startswith="pending_")
    assert panel == list(listed.order_by("-created_at", "-id")[:20]) and len(panel) == 2


def _orm_versions(order: Order) -> list[tuple]:
    """What documents.services.versions read before core.sqlmemo: the related manager and a Prefetch."""
    originals = (
        order.request.attachments.live()
        .filter(category=FileCategory.CV_UPLOAD)
        .select_related("extraction")
        .order_by("created_at", "id")
    )
    found = [(f"o{n}", f"Your original: {a.original_name}", a.pk) for n, a in enumerate(originals, start=1)]
    live_files = Prefetch("files", queryset=FileAsset.objects.live().select_related("extraction"))
    for delivery in Delivery.objects.filter(order=order).prefetch_related(live_files).order_by("number"):
        files = sorted(delivery.files.all(), key=lambda asset: (asset.created_at, asset.pk))
        for n, a in enumerate(files, start=1):
            found.append((f"d{delivery.number}.{n}", f"Delivery {delivery.number}: {a.original_name}", a.pk))
    return found


def test_the_documents_versions_are_what_the_orm_reads(two_orders):
    for order in two_orders:
        found = documents.versions(order)
        assert [(v.key, v.label, v.asset.pk) for v in found] == _orm_versions(order)
        assert [v.extraction is not None for v in found] == [
            Extraction.objects.filter(asset=v.asset).exists() for v in found
        ]
    assert len(documents.versions(two_orders[1])) == 2 + 3 * 3  # two live CVs, three live files a round


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
def test_someone_elses_order_is_still_404_once_the_query_is_memoised(client, two_orders, other_client, who, request):
    """The memoised read keeps visible_to's condition: a party's compiled statement run for a stranger finds
    nothing."""
    order, theirs = two_orders
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("orders:detail", args=[order.pk])).status_code == 200
    assert client.get(reverse("orders:detail", args=[theirs.pk])).status_code == 404
    client.force_login(other_client)
    assert client.get(reverse("orders:detail", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:detail", args=[theirs.pk])).status_code == 200


@pytest.mark.parametrize("who", ["client", "coach"])
def test_an_order_page_not_seen_before_compiles_none_of_its_queries(
    client, two_orders, client_user, coach_user, other_client, other_coach, compilations, who
):
    """The second order's page runs the first one's compiled statements with other ids: the ORM builds no
    session user, order, timeline, delivery, file, review, payment or retention query for it (cached_for values
    may)."""
    order, theirs = two_orders
    viewer = {"client": (client_user, other_client), "coach": (coach_user, other_coach)}[who]
    client.force_login(viewer[0])
    assert client.get(reverse("orders:detail", args=[order.pk])).status_code == 200
    client.force_login(viewer[1])
    compilations.clear()
    response = client.get(reverse("orders:detail", args=[theirs.pk]))
    assert response.status_code == 200 and "round 3 early.pdf" in response.content.decode()
    listed = {User, Order, OrderEvent, Delivery, Delivery.files.through, Review, Payment, FileAsset, OrderRetention}
    assert [model for model in compilations if model in listed] == []


@pytest.mark.parametrize("who", ["client", "coach"])
def test_an_order_page_not_seen_before_reads_no_conversation_card_from_the_cache(
    client, two_orders, client_user, coach_user, other_client, other_coach, monkeypatch, who
):
    """The Conversation card comes with the order's statement: a miss of an order page, first or not, reads and
    stores no card of its own in the cache, and shows the card the ORM's read shows."""
    from django.conf import settings
    from redis.client import Pipeline, Redis

    from conftest import require_service

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    order, theirs = two_orders
    viewer = {"client": (client_user, other_client), "coach": (coach_user, other_coach)}[who]
    sent: list[tuple] = []
    command, pipeline = Redis.execute_command, Pipeline.execute_command
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: sent.append(a) or command(self, *a, **k))
    monkeypatch.setattr(Pipeline, "execute_command", lambda self, *a, **k: sent.append(a) or pipeline(self, *a, **k))
    for user, shown in ((viewer[0], order), (viewer[1], theirs), (viewer[1], theirs)):
        client.force_login(user)
        users_changed(user.pk)
        sent.clear()
        html = client.get(reverse("orders:detail", args=[shown.pk])).content.decode()
        assert not [a for a in sent if any(":order-card:" in str(part) or ":order:" in str(part) for part in a[1:])]
        thread = services_threads.threads_for_list(user).get(order=shown)
        assert f'href="{reverse("messaging:detail", args=[thread.pk])}"' in html
        shown_unread = f"{thread.unread} unread</span>" in html
        assert shown_unread == bool(thread.unread)


def test_a_miss_reads_the_review_retention_and_thread_in_the_orders_statement(client, two_orders, client_user):
    """The order's review, documents' retention row and Conversation card (its thread and the viewer's unread
    count) are read with the order: no statement of their own (the base: two here, its card a cache hit), eight
    in all for a finished, reviewed order with deliveries, files, payments and CVs (ten on the base)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order, _theirs = two_orders
    OrderRetention.objects.create(order=order, retention_days=30, purged_at=timezone.now(), deleted={"files": 3})
    client.force_login(client_user)
    client.get(reverse("orders:detail", args=[order.pk]))
    users_changed(client_user.pk)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'data-retention="purged"' in html and "30 days after the order ended" in html and "3 files" in html
    assert 'id="review-title" class="h5">Review' in html
    assert "Open conversation" in html
    statements = [q["sql"] for q in queries]
    for table in ("orders_review", "documents_orderretention", "messaging_messagethread"):
        reading = [sql for sql in statements if f'"{table}"' in sql]
        assert len(reading) == 1 and reading[0].startswith('SELECT "orders_order"."id"'), (table, statements)
    assert len(statements) <= 8, statements


def test_the_empty_forms_render_as_crispy_renders_them():
    """Each empty form of the page is made once per process and rendered once, as `|crispy` renders a new one."""
    from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form

    from orders.templatetags.order_forms import crispy_once
    from orders.views import EMPTY_FORMS, empty_form

    for name, make in EMPTY_FORMS.items():
        assert empty_form(name) is empty_form(name) and not empty_form(name).is_bound
        assert crispy_once(empty_form(name)) == as_crispy_form(make()) == crispy_once(empty_form(name))


def test_an_order_page_renders_no_empty_form_again(client, two_orders, client_user, coach_user):
    """The coach's delivery form, the client's revision, dispute and cancel forms: rendered on the first page a
    process shows them, then taken as they were; a form sent back with its errors is rendered with them."""
    order, _theirs = two_orders
    fresh = make_order(client=client_user, coach=coach_user)
    orders.mark_paid(fresh.pk, actor=None)
    client.force_login(coach_user)
    client.get(reverse("orders:detail", args=[fresh.pk]))
    orders.deliver(fresh.pk, actor=coach_user, note="First round", files=[])
    client.force_login(client_user)
    first = client.get(reverse("orders:detail", args=[fresh.pk]))
    assert 'id="revision-form"' in first.content.decode()
    users_changed(client_user.pk, coach_user.pk)
    again = client.get(reverse("orders:detail", args=[fresh.pk]))
    assert _masked(again) == _masked(first)
    assert "bootstrap5/uni_form.html" not in [t.name for t in again.templates]

    sent = client.post(reverse("orders:request_revision", args=[fresh.pk]), {"note": "short"})
    assert sent.status_code == 400 and "Ensure this value has at least 10 characters" in sent.content.decode()
    users_changed(client_user.pk)
    html = client.get(reverse("orders:detail", args=[fresh.pk])).content.decode()
    assert "Ensure this value has at least 10 characters" not in html and 'name="note"' in html


def _masked(response) -> str:
    import re

    return re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", response.content.decode())


def test_the_reviewers_name_is_the_order_clients_row(client, two_orders, coach_user):
    """The review shows its client's name: the order's client, read with the order, not read again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order, _theirs = two_orders
    client.force_login(coach_user)
    client.get(reverse("orders:detail", args=[order.pk]))
    users_changed(coach_user.pk)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("orders:detail", args=[order.pk]))
    html = response.content.decode()
    assert f"by {order.client.display_name}, " in html and 'id="review-title"' in html
    users = [q["sql"] for q in queries if 'FROM "accounts_user" WHERE' in q["sql"]]
    assert len(users) <= 1, users  # the signed-in coach (when the session does not hold them); no reviewer


def test_a_finished_orders_page_reads_its_timeline_once(client, two_orders, client_user):
    """A completed order may have been disputed: the dispute panel finds the move into it among the timeline's
    rows the page read, not in a statement of its own."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order, _theirs = two_orders
    client.force_login(client_user)
    users_changed(client_user.pk)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("orders:detail", args=[order.pk])).status_code == 200
    assert Order.objects.get(pk=order.pk).status == "completed"
    timeline = [q["sql"] for q in queries if 'FROM "orders_orderevent"' in q["sql"]]
    assert len(timeline) == 1, timeline


def test_an_order_without_deliveries_reads_no_delivery_files(client, client_user, coach_user):
    """The documents panel lists the client's CVs, and a delivery's files only when the page read a delivery:
    none delivered, no statement for their files (the order page's or the panel's)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order = make_order(client=client_user, coach=coach_user)
    order.request.attachments.add(_asset(client_user, "my cv.pdf", FileCategory.CV_UPLOAD, age_minutes=3, read=True))
    orders.mark_paid(order.pk, actor=None)
    assert documents.versions(order, delivered=False) == documents.versions(order)
    assert [(v.key, v.label, v.asset.pk) for v in documents.versions(order, delivered=False)] == _orm_versions(order)
    client.force_login(client_user)
    users_changed(client_user.pk)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "Your original: my cv.pdf" in html and "Nothing delivered yet." in html
    assert not [q["sql"] for q in queries if 'FROM "orders_delivery_files"' in q["sql"]]


def test_what_the_order_read_with_it_shows_at_once_on_the_next_visit(client, client_user, coach_user):
    """The card, the review and the payment now come with the order's statement, and the card has no cache
    entry of its own: a message, a read mark, a payment, a delivery and a review each show on the client's
    next visit of the cached page."""
    order = make_order(client=client_user, coach=coach_user)
    client.force_login(client_user)
    url = reverse("orders:detail", args=[order.pk])

    def shown() -> str:
        return client.get(url).content.decode()

    assert "Ask questions and share drafts with your coach." in shown()
    assert shown().count('data-payment-state="unpaid"') == 1  # a hit
    message = services_threads.send_message(order.thread, actor=coach_user, body="Hello")
    assert '<span class="badge rounded-pill bg-danger">1 unread</span>' in shown()
    services_threads.mark_read(order.thread, actor=client_user, up_to_message_id=message.pk)
    assert "Last message " in shown() and " unread</span>" not in shown()
    orders.mark_paid(order.pk, actor=None)
    assert 'data-payment-state="unpaid"' not in shown()
    orders.deliver(order.pk, actor=coach_user, note="Here it is")
    assert "Delivery 1" in shown() and "Here it is" in shown()
    orders.accept_delivery(order.pk, actor=client_user)
    assert "How did it go?" in shown()
    orders.submit_review(order.pk, actor=client_user, rating=5, comment="Lovely work")
    html = shown()
    assert "How did it go?" not in html and "Lovely work" in html and 'id="review-title" class="h5">Review' in html
