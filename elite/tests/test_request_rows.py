"""The dashboards' request rows (the client's requests waiting for an answer, the coach's incoming requests) are
filled in (elite.dashboards._request_row) from a form rendered once per process and shape (addressed or open)
with slots for the title, the other party's name, the service and the time left, and a marked sentinel for the
id: every row is what the lists' inline loops printed, whatever the values."""

import datetime
import itertools

import pytest
from django.template import engines
from django.template.loader import get_template
from django.utils import timezone

from accounts.models import Role, User
from coaches.models import CoachProfile, ServiceType
from core import fragments
from elite import dashboards
from requests_app.models import ServiceRequest

NAMES = [("Ada", "Lovelace"), ('<b>Ann</b> & "Co"', "O'Neil"), ("", ""), ("@@fragment-slot-name@@", ""), ("Zoë", "")]
TITLES = ["CV rewrite", "<b>CV</b> & 'letter'", "", "@@fragment-slot-title@@ @@fragment-slot-pk@@", "a" * 160]
TITLES += ["Request 987654321987", "{{ r.pk }} {% url 'x' %}"]
# Well inside their units, so the inline loop's |timeuntil, a moment later, prints the same
LEFT = [datetime.timedelta(seconds=-3600), datetime.timedelta(seconds=30), datetime.timedelta(minutes=1, seconds=30)]
LEFT += [datetime.timedelta(hours=2, minutes=30, seconds=30), datetime.timedelta(days=1, hours=1, seconds=30)]
LEFT += [datetime.timedelta(days=400, seconds=30)]

# What templates/dashboards/client.html and coach.html printed for each request before (main, aad0b4a^)
CLIENT_LOOP = """{% for r in open_requests %}
        <a class="list-group-item list-group-item-action" href="{% url 'requests_app:detail' r.pk %}" data-request-id="{{ r.pk }}">
          <div class="fw-semibold">{{ r.title }}</div>
          <div class="small text-body-secondary">{% if r.coach %}to {{ r.coach.user.display_name }}{% else %}open request{% endif %} · expires in {{ r.expires_at|timeuntil }}</div>
        </a>
        {% endfor %}"""
COACH_LOOP = """{% for r in incoming %}
        <a class="list-group-item list-group-item-action" href="{% url 'requests_app:detail' r.pk %}" data-request-id="{{ r.pk }}">
          <div class="d-flex justify-content-between flex-wrap gap-2">
            <span class="fw-semibold">{{ r.title }}</span>
            {% if r.coach_id %}<span class="badge text-bg-primary">For you</span>{% else %}<span class="badge text-bg-warning">Open</span>{% endif %}
          </div>
          <div class="small text-body-secondary">{{ r.get_service_type_display }} · from {{ r.client.display_name }} · expires in {{ r.expires_at|timeuntil }}</div>
        </a>
        {% endfor %}"""
NOW_LOOP = "{% for row in rows %}\n        {{ row }}        {% endfor %}"


@pytest.fixture(autouse=True)
def no_row_forms():
    """Each test starts as a fresh process would: no shape of a row filled in yet (they are per process)."""
    fragments._slotted_forms.clear()


def _requests():
    """In-memory requests (a row reads nothing from the database): every service, title and name, addressed to a
    coach or open, expiring past or in minutes to a year, ids of 1 to 12 digits."""
    now = timezone.now()
    found = []
    combos = itertools.product(ServiceType.values, TITLES, NAMES, [True, False], LEFT)
    for number, (service, title, (first, last), addressed, left) in enumerate(combos):
        if number % 3:
            continue
        person = User(
            pk=10 + number, first_name=first, last_name=last, email=f"p{number}@example.com", role=Role.CLIENT
        )
        request = ServiceRequest(
            pk=int("5" * (1 + number % 12)), title=title, service_type=service, expires_at=now + left
        )
        request.client = person
        if addressed:
            request.coach = CoachProfile(pk=3 + number, user=person)
        found.append(request)
    return found


@pytest.mark.parametrize("incoming", [False, True])
def test_each_filled_row_is_what_the_inline_loop_printed(incoming):
    requests = _requests()
    assert len(requests) > 300
    template_name, loop, name = (
        (dashboards.INCOMING_ROW, COACH_LOOP, "incoming")
        if incoming
        else (dashboards.OPEN_REQUEST_ROW, CLIENT_LOOP, "open_requests")
    )
    engine = engines["django"]
    for request in requests:
        rows = dashboards._request_rows([request], template_name, incoming=incoming)
        assert rows == [get_template(template_name).render({"r": request})]
        assert engine.from_string(NOW_LOOP).render({"rows": rows}) == engine.from_string(loop).render({name: [request]})
    forms = list(fragments._slotted_forms.values())
    assert len(forms) == 2 and None not in forms  # addressed or open


def test_a_row_that_is_filled_in_renders_nothing(monkeypatch):
    first, second = [r for r in _requests() if r.coach_id is not None][:2]
    dashboards._request_rows([first], dashboards.INCOMING_ROW, incoming=True)
    template = get_template(dashboards.INCOMING_ROW)
    monkeypatch.setattr(type(template), "render", lambda *args, **kwargs: pytest.fail("rendered"))
    second.title = "Second & last"
    html = dashboards._request_rows([second], dashboards.INCOMING_ROW, incoming=True)[0]
    assert f'data-request-id="{second.pk}"' in html and f"/{second.pk}/" in html and "Second &amp; last" in html
    assert "For you" in html and str(second.get_service_type_display()) in html
