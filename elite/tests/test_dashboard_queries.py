"""The dashboards' queries on a miss (issue 13): compiled once per process (core.sqlmemo), and still showing
what the ORM reads: the same rows, in the same order, for every kind of request, job and review."""

import hashlib
import re

import pytest
from django.db.models import Q
from django.urls import reverse

from accounts.tests.factories import ClientFactory
from coaches.models import CoachProfile, ServiceType
from coaches.tests.factories import CoachProfileFactory
from core.cache import _READ_AHEAD_MANY, _SET_EACH
from elite.dashboards import LIST_SIZE, REVIEWS_TO_ANSWER, dashboard_context
from files.models import FileAsset, ScanStatus
from files.templatetags.files_tags import recent_uploads
from messaging.models import Message, MessageThread
from orders import services as orders
from orders.models import Order, OrderStatus, Review
from orders.tests.factories import make_order
from requests_app.models import RequestDecline, ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def _sha(script: str) -> str:  # how core.cache's scripts show among the commands sent (EVALSHA)
    return hashlib.sha1(script.encode()).hexdigest()


def _reviewed(coach, client, *, rating, reply=""):
    order = make_order(client=client, coach=coach)
    orders.mark_paid(order.pk, actor=None)
    orders.deliver(order.pk, actor=coach, note="Here it is.")
    orders.accept_delivery(order.pk, actor=client)
    review = orders.submit_review(order.pk, actor=client, rating=rating, comment=f"Rated {rating}")
    if reply:
        orders.reply_to_review(review.pk, actor=coach, reply=reply)
    return review


@pytest.fixture
def marketplace():
    """Two coaches (one not taking open requests) and two clients, with every kind of row a dashboard lists."""
    coach = CoachProfileFactory(services=[ServiceType.CV, ServiceType.LINKEDIN]).user
    busy = CoachProfileFactory(services=[ServiceType.CV], is_available=False).user
    other_coach = CoachProfileFactory(services=[ServiceType.CV]).user
    client, other = ClientFactory(), ClientFactory()
    for number in range(LIST_SIZE + 2):  # more active orders than a list shows
        order = make_order(client=client if number % 3 else other, coach=coach if number % 2 else busy)
        if number % 4:
            orders.mark_paid(order.pk, actor=None)
    for rating, reply in ((5, ""), (3, "Thanks"), (4, ""), (2, ""), (5, ""), (1, "")):
        _reviewed(coach, other if rating % 2 else client, rating=rating, reply=reply)
    _reviewed(busy, client, rating=4)
    Review.objects.filter(coach=coach.coach_profile, rating=2).update(is_hidden=True)
    for owner, coach_of in ((client, coach), (client, busy), (other, coach), (other, None), (client, None)):
        ServiceRequestFactory(client=owner, coach=coach_of.coach_profile if coach_of else None)
    ServiceRequestFactory(client=client, coach=None, service_type=ServiceType.LINKEDIN)
    ServiceRequestFactory(client=client, coach=None, service_type=ServiceType.COVER_LETTER)  # nobody offers it
    declined = ServiceRequestFactory(client=other, coach=None)
    RequestDecline.objects.create(request=declined, coach=coach.coach_profile)
    taken = ServiceRequestFactory(client=other, coach=coach.coach_profile)
    ServiceRequest.objects.filter(pk=taken.pk).update(status="rejected")
    ServiceRequestFactory(client=other, coach=other_coach.coach_profile)
    return {"coach": coach, "busy": busy, "other_coach": other_coach, "client": client, "other": other}


def _orm_client(user) -> dict:
    """What elite.dashboards._client read before core.sqlmemo: the plain querysets."""
    active = Order.objects.filter(client=user).active().select_related("coach").order_by("deadline", "id")
    requests = ServiceRequest.objects.for_client(user).pending().select_related("coach__user")
    return {
        "active_orders": [(o.pk, o.coach.display_name, o.deadline) for o in active[:LIST_SIZE]],
        "open_requests": [
            (r.pk, r.coach and r.coach.user.display_name, r.expires_at)
            for r in requests.order_by("expires_at", "id")[:LIST_SIZE]
        ],
    }


def _orm_coach(user) -> dict:
    profile = CoachProfile.objects.get(user=user)
    incoming = ServiceRequest.objects.available_to(profile)
    jobs = Order.objects.filter(coach=user).active().select_related("client").order_by("deadline", "id")
    reviews = Review.objects.filter(coach=profile, replied_at__isnull=True, is_hidden=False).order_by(
        "-created_at", "-id"
    )
    return {
        "incoming": [(r.pk, r.client.display_name, r.coach_id) for r in incoming[:LIST_SIZE]],
        "incoming_count": incoming.count(),
        "jobs": [(o.pk, o.client.display_name, o.deadline) for o in jobs[:LIST_SIZE]],
        "completed_count": Order.objects.filter(coach=user, status=OrderStatus.COMPLETED).count(),
        "unanswered_reviews": [
            (r.pk, r.rating, r.comment, r.created_at, r.order.title, r.client.first_name)
            for r in reviews[:REVIEWS_TO_ANSWER]
        ],
    }


def test_the_client_dashboard_lists_what_the_orm_reads(marketplace):
    for user in (marketplace["client"], marketplace["other"]):
        _template, context = dashboard_context(user)
        shown = {
            "active_orders": [(o.pk, o.coach.display_name, o.deadline) for o in context["active_orders"]],
            "open_requests": [
                (r.pk, r.coach and r.coach.user.display_name, r.expires_at) for r in context["open_requests"]
            ],
        }
        assert shown == _orm_client(user)
        assert shown["active_orders"] and shown["open_requests"]


def test_the_coach_dashboard_lists_what_the_orm_reads(marketplace):
    """Addressed, open and matching, open and not offered, declined, no longer pending; a coach who takes no
    open requests sees only those addressed to them; replied and hidden reviews are not to answer."""
    for user in (marketplace["coach"], marketplace["busy"], marketplace["other_coach"]):
        _template, context = dashboard_context(user)
        shown = {
            "incoming": [(r.pk, r.client.display_name, r.coach_id) for r in context["incoming"]],
            "incoming_count": context["incoming_count"],
            "jobs": [(o.pk, o.client.display_name, o.deadline) for o in context["jobs"]],
            "completed_count": context["completed_count"],
            "unanswered_reviews": [
                (r.pk, r.rating, r.comment, r.created_at, r.order.title, r.client.first_name)
                for r in context["unanswered_reviews"]
            ],
        }
        assert shown == _orm_coach(user)
    coach = dashboard_context(marketplace["coach"])[1]
    assert coach["incoming_count"] == 5 and coach["completed_count"] == 6  # 2 addressed, 3 open of its services
    assert len(coach["unanswered_reviews"]) == REVIEWS_TO_ANSWER
    busy = dashboard_context(marketplace["busy"])[1]
    assert busy["incoming_count"] == 1 and busy["completed_count"] == 1


def test_an_available_coachs_requests_by_id_are_the_same_query(marketplace):
    """available_to(profile) is available_to_profile_id with the profile's id in each place: one SQL text."""
    for user in (marketplace["coach"], marketplace["busy"]):
        profile = CoachProfile.objects.get(user=user)
        by_profile = ServiceRequest.objects.available_to(profile).query.sql_with_params()
        by_id = ServiceRequest.objects.available_to_profile_id(
            profile.pk, profile.pk, profile.pk, is_available=profile.is_available
        )
        assert by_id.query.sql_with_params() == by_profile


def test_recent_uploads_are_what_the_orm_reads(client_user, other_client):
    for number, status in enumerate([ScanStatus.CLEAN, ScanStatus.INFECTED, ScanStatus.PENDING, ScanStatus.CLEAN] * 2):
        for owner in (client_user, other_client):
            FileAsset.objects.create(
                owner=owner,
                category="cv_upload" if number != 5 else "delivery",
                key=f"k/{owner.pk}/{number}",
                original_name=f"cv-{number}.pdf",
                content_type="application/pdf",
                size=100 + number,
                scan_status=status,
                sha256="0" * 64,
            )
    FileAsset.objects.filter(owner=client_user, original_name="cv-6.pdf").update(deleted_at="2026-01-01T00:00Z")
    for limit in (3, 5):
        orm = FileAsset.objects.live().filter(owner=client_user, category="cv_upload")
        orm = orm.exclude(scan_status=ScanStatus.INFECTED)[:limit]
        assert [a.pk for a in recent_uploads(client_user, "cv_upload", limit=limit)] == [a.pk for a in orm]
    skipped = recent_uploads(client_user, "cv_upload", existing=[FileAsset.objects.filter(owner=client_user).first()])
    assert skipped and FileAsset.objects.filter(owner=client_user).first() not in skipped


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_dashboard_not_seen_before_compiles_none_of_its_lists(client, marketplace, compilations, who):
    """The second user's dashboard runs the first one's compiled statements with another id: the ORM builds
    no order, request, review, file, profile or thread query for it (the session and cached_for values may). The
    coach seen first has no active job, so both ways to the completed count (alone, and with the jobs) are compiled."""
    first, second = {"client": ("client", "other"), "coach": ("other_coach", "coach")}[who]
    client.force_login(marketplace[first])
    assert client.get(reverse("dashboard")).status_code == 200
    client.force_login(marketplace[second])
    compilations.clear()
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    listed = {Order, ServiceRequest, Review, FileAsset, CoachProfile, MessageThread, Message}
    assert [model for model in compilations if model in listed] == []


def test_statuses_a_dashboard_leaves_out_are_left_out(marketplace):
    """Rows that are not active or pending do not show: the memoised shapes kept the ORM's constant filters."""
    coach = marketplace["coach"]
    Order.objects.filter(coach=coach).update(status=OrderStatus.CANCELLED)
    ServiceRequest.objects.filter(Q(client=marketplace["client"])).update(status="expired")
    _template, context = dashboard_context(coach)
    assert context["jobs"] == []
    _template, context = dashboard_context(marketplace["client"])
    assert context["open_requests"] == []


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_second_miss_reads_its_cached_values_in_one_round_trip(client, marketplace, monkeypatch, who):
    """core.pages reads ahead what the view's last miss read through cached_for (the bell count, the verified
    email, threads, notifications): one MGET instead of one each, and the same page."""
    from django.conf import settings
    from redis.client import Redis

    from conftest import require_service
    from core.pages import users_changed

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    user = marketplace[who]
    client.force_login(user)
    first = client.get(reverse("dashboard")).content.decode()
    users_changed(user.pk)
    sent: list[tuple] = []
    command = Redis.execute_command
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: sent.append(a) or command(self, *a, **k))
    second = client.get(reverse("dashboard")).content.decode()

    token = re.compile(r"\b[A-Za-z0-9]{64}\b")  # the CSRF tokens: a fresh mask on each render
    assert token.sub("", second) == token.sub("", first)
    reads = [a for a in sent if a[0] in ("GET", "MGET") or a[:2] == ("EVALSHA", _sha(_READ_AHEAD_MANY))]
    # the session, the page and its versions, the values read ahead; the order rows are filled in, not read
    assert len(reads) == 3, [a[:3] for a in reads]


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_first_miss_reads_ahead_what_another_users_miss_read(client, marketplace, monkeypatch, who):
    """A user this process never served the dashboard to reads ahead, in one round trip, what the view's last miss read
    through cached_for for another user, under their own id (bell count, threads, notifications, the verified
    email: its name holds no address); the navbar is filled in, not read. The same page as a miss that reads
    nothing ahead."""
    from django.conf import settings
    from django.core.cache import cache
    from redis.client import Redis

    from conftest import require_service
    from core import pages

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    first, second = {"client": ("client", "other"), "coach": ("coach", "other_coach")}[who]
    user = marketplace[second]
    client.force_login(marketplace[first])
    assert client.get(reverse("dashboard")).status_code == 200
    client.force_login(user)
    for script in (_READ_AHEAD_MANY, _SET_EACH):  # known to Redis, as after any earlier miss: one EVALSHA each
        cache._redis().script_load(script)
    sent: list[tuple] = []
    command = Redis.execute_command
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: sent.append(a) or command(self, *a, **k))
    ahead = client.get(reverse("dashboard")).content.decode()
    monkeypatch.undo()

    wanted = [f":notifications:{user.pk}:unread", f":messaging:threads:{user.pk}:box:5"]
    wanted += [f":notifications:{user.pk}:recent:5", f":email-addresses:{user.pk}:verified-email"]
    reads = [a for a in sent if a[0] in ("GET", "MGET", "EVALSHA", "EVAL") and a[1] != _sha(_SET_EACH)]
    value_reads = [a for a in reads if a[0] in ("MGET", "EVALSHA") and any(w in str(k) for k in a[1:] for w in wanted)]
    assert len(value_reads) == 1, value_reads  # all four in one read
    assert all(any(str(k).endswith(w) for k in value_reads[0][1:]) for w in wanted)
    # the session, the page and its versions, the values read ahead with this user's missing versions started (one
    # script); no navbar, no order row (both filled in)
    assert len(reads) == 3, [a[:3] for a in reads]
    assert not any(":fragment:" in str(key) for a in sent for key in a[1:])
    pages._PATTERNS.clear()
    pages._READS.clear()
    pages.users_changed(user.pk)
    without = client.get(reverse("dashboard")).content.decode()
    token = re.compile(r"\b[A-Za-z0-9]{64}\b")
    assert token.sub("", ahead) == token.sub("", without)


def test_a_coach_without_active_jobs_still_counts_their_completed_orders(marketplace):
    """The completed count comes with the first job row; with no job there is no row, and it is counted alone."""
    coach = marketplace["coach"]
    Order.objects.filter(coach=coach).exclude(status=OrderStatus.COMPLETED).update(status=OrderStatus.CANCELLED)
    _template, context = dashboard_context(coach)
    assert context["jobs"] == [] and context["completed_count"] == 6 == _orm_coach(coach)["completed_count"]


def test_more_incoming_requests_than_the_list_shows_are_all_counted(marketplace):
    """COUNT(*) OVER () is counted before the LIMIT: the "Requests waiting" figure is every request, the list
    the first LIST_SIZE of them."""
    coach = marketplace["coach"]
    for _ in range(LIST_SIZE + 3):
        ServiceRequestFactory(client=marketplace["client"], coach=coach.coach_profile)
    _template, context = dashboard_context(coach)
    orm = _orm_coach(coach)
    assert len(context["incoming"]) == LIST_SIZE and context["incoming_count"] == 5 + LIST_SIZE + 3
    assert [r.pk for r in context["incoming"]] == [pk for pk, _name, _coach in orm["incoming"]]
    assert context["incoming_count"] == orm["incoming_count"]


@pytest.mark.parametrize(("who", "statements"), [("client", 6), ("coach", 8), ("other_coach", 9)])
def test_a_dashboard_not_seen_before_runs_one_statement_per_box(
    client, marketplace, who, statements, django_assert_num_queries
):
    """A cold miss (the user's caches empty, the shapes compiled for another user): the session's user, the
    lists (the coach's incoming requests with their count, the jobs with the completed count), the notifications
    with the bell's count and the verified email (one statement: notifications._latest), the threads box with its
    last messages, the recent files or the earnings. 9 / 13 before session 15. A coach with no active job counts the completed ones alone (other_coach: one statement more)."""
    from core.pages import users_changed
    from messaging import services as messaging

    for name in ("client", "other", "coach", "other_coach"):  # a last message in each one's threads box
        thread = MessageThread.objects.filter(Q(client=marketplace[name]) | Q(coach=marketplace[name])).first()
        if thread is not None:
            messaging.send_message(thread, actor=thread.client, body="Hello")
    warm = {"client": "other", "coach": "other_coach", "other_coach": "coach"}[who]
    client.force_login(marketplace[warm])
    assert client.get(reverse("dashboard")).status_code == 200
    user = marketplace[who]
    client.force_login(user)
    users_changed(user.pk)
    with django_assert_num_queries(statements):
        assert client.get(reverse("dashboard")).status_code == 200
