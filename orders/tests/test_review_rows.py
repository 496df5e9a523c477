"""The coach dashboard's reviews to answer are filled in (orders.templatetags.review_rows) from a form rendered once
per process and shape (rating, a comment or none, a CSRF token or none) with slots for the client's name, the
title, the comment and the token and marked sentinels for the ids and the date: every row is what the template
itself prints, whatever the values, in any time zone, and a template that prints a value otherwise is rendered
for each row."""

import datetime
import itertools
import re

import pytest
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from core import fragments
from orders.models import Order, Review
from orders.templatetags import review_rows

ROW = review_rows.REVIEW_ROW
NAMES = ["Ada", '<b>Ann</b> & "Co"', "", "@@fragment-slot-name@@", "Zoë", "A client"]
TITLES = ["CV rewrite", "<b>CV</b> & 'letter'", "", "t" * 39, "u" * 40, "v" * 41, "@@fragment-slot-title@@"]
TITLES += ["Order 987654321986 on 2 Feb 0002", "é" * 45]
COMMENTS = ["", "Great.", "word " * 39, "word " * 40, "word " * 41, "line one\nline two  spaced", "<script>x</script>"]
COMMENTS += ["@@fragment-slot-comment@@", "987654321987", "a & b < c > \" '"]
MOMENTS = [
    datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.UTC),
    datetime.datetime(2025, 1, 1, 0, 5, tzinfo=datetime.UTC),
]
MOMENTS += [
    datetime.datetime(2028, 2, 29, 12, tzinfo=datetime.UTC),
    datetime.datetime(9999, 12, 30, tzinfo=datetime.UTC),
]
TOKENS = ["a" * 64, "Zz09" * 16, None, "NOTPROVIDED", ""]
ZONES = ["UTC", "Europe/London", "America/New_York", "Asia/Tokyo", "Pacific/Kiritimati"]


@pytest.fixture(autouse=True)
def no_row_forms():
    """Each test starts as a fresh process would: no shape of a row filled in yet (they are per process)."""
    fragments._slotted_forms.clear()


def _reviews():
    """In-memory reviews with each rating, name, title, comment and date, ids of 1 to 12 digits (a row reads nothing
    from the database)."""
    found = []
    combos = itertools.product(range(1, 6), NAMES, TITLES, COMMENTS, MOMENTS)
    for number, (rating, name, title, comment, moment) in enumerate(combos):
        if number % 5:
            continue
        client = User(pk=100 + number, first_name=name, email=f"c{number}@example.com", role=Role.CLIENT)
        order = Order(pk=int("8" * (1 + number % 12)), title=title)
        review = Review(pk=int("7" * (1 + (number // 3) % 12)), rating=rating, comment=comment, created_at=moment)
        review.client, review.order = client, order
        found.append(review)
    return found


def _rendered(review, token):
    return get_template(ROW).render({"review": review, "csrf_token": token})


@pytest.mark.filterwarnings("ignore:Calling format_html")  # Django's own {% csrf_token %} for NOTPROVIDED
def test_each_filled_row_is_the_templates_own_render():
    reviews = _reviews()
    assert len(reviews) > 800
    for zone, token in zip(ZONES, TOKENS, strict=True):
        with timezone.override(zone):
            for review in reviews:
                assert review_rows.review_rows({"csrf_token": token}, [review]) == [_rendered(review, token)]
    forms = list(fragments._slotted_forms.values())
    assert None not in forms  # ratings × comment or none × token or none
    assert len(forms) == 5 * 2 * 2


def test_the_date_is_the_time_zones():
    """23:30 UTC on 6 Dec is 7 Dec in Tokyo and still 6 Dec in New York."""
    review = _reviews()[0]
    review.created_at = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.UTC)
    with timezone.override("Asia/Tokyo"):
        assert "7 Dec 2026" in review_rows.review_rows({}, [review])[0]
    with timezone.override("America/New_York"):
        assert "6 Dec 2026" in review_rows.review_rows({}, [review])[0]
        assert "6 Dec 2026" in review_rows.review_rows({}, [review])[0]  # from the form


def test_a_row_that_is_filled_in_renders_nothing(monkeypatch):
    first, other = _reviews()[:2]
    other.rating, other.comment = first.rating, "Second & last"
    first.comment = "First"
    review_rows.review_rows({"csrf_token": "t" * 64}, [first])  # the shape's form, checked against a real render
    template = get_template(ROW)
    monkeypatch.setattr(type(template), "render", lambda *args, **kwargs: pytest.fail("rendered"))
    html = review_rows.review_rows({"csrf_token": "k" * 64}, [other])[0]
    assert f'data-review="{other.pk}"' in html and f'id="reply-{other.pk}"' in html
    assert reverse("orders:reply", args=[other.order.pk]) in html and "Second &amp; last" in html
    assert 'value="' + "k" * 64 + '"' in html


def test_a_row_that_prints_a_value_otherwise_is_rendered_for_each_row(settings, tmp_path):
    """The comment |upper: the slot's text comes out changed, so the form never fits and each row is rendered."""
    source = get_template(ROW).template.source.replace("truncatewords:40", "upper")
    (tmp_path / "orders" / "partials").mkdir(parents=True)
    (tmp_path / ROW).write_text(source)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    reviews = [r for r in _reviews() if r.comment and r.rating == 5][:3]
    for review in reviews:
        assert review_rows.review_rows({}, [review]) == [_rendered(review, None)]
        assert review.comment.upper().replace("&", "&amp;")[:5] in _rendered(review, None)
    assert list(fragments._slotted_forms.values()) == [None]


@pytest.mark.django_db
def test_the_reply_forms_post_with_the_pages_token(client, coach_user, client_user):
    """Each reply form carries the token the page's other forms carry (the one lazy token), and a reply posted
    with it is accepted."""
    from orders import services as orders
    from orders.tests.factories import make_order

    client.handler.enforce_csrf_checks = True
    for rating in (5, 3):
        order = make_order(client=client_user, coach=coach_user)
        orders.mark_paid(order.pk, actor=None)
        orders.deliver(order.pk, actor=coach_user, note="Done")
        orders.accept_delivery(order.pk, actor=client_user)
        orders.submit_review(order.pk, actor=client_user, rating=rating, comment="<b>Fine</b>")
    client.force_login(coach_user)
    first = client.get(reverse("dashboard")).content.decode()
    again = client.get(reverse("dashboard")).content.decode()  # a hit where the page cache is on: its tokens refilled
    for html in (first, again):
        tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert html.count("data-review=") == 2 and len(tokens) >= 3 and len(set(tokens)) == 1
    reviews = list(Review.objects.filter(coach=coach_user.coach_profile))
    for review, html in zip(reviews, (first, again), strict=True):
        token = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[0]
        response = client.post(
            reverse("orders:reply", args=[review.order_id]), {"reply": "Thanks", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        review.refresh_from_db()
        assert review.reply == "Thanks"
