"""A dashboard's order rows are filled in (elite.dashboards._order_row) from a form rendered once per process and
shape (whose row, status, escalated) with slots for the title, the other party's name, what the row
waits for, and marked sentinels for the id, the deadline and the amount: every row is what the template itself
prints, whatever the values, and a template that prints a value any other way is rendered for each row."""

import datetime
import itertools
import random

import pytest
from django.conf import settings
from django.template.loader import get_template
from django.test import override_settings
from django.utils import timezone, translation

from accounts.models import Role, User
from core import fragments
from elite import dashboards
from orders.models import Order, OrderStatus
from orders.views import waiting_for

ROW = dashboards.ORDER_ROW


@pytest.fixture(autouse=True)
def no_row_forms():
    """Each test starts as a fresh process would: no shape of a row filled in yet (they are per process)."""
    fragments._slotted_forms.clear()


NAMES = [("Ada", "Lovelace"), ('<b>Ann</b> & "Co"', "O'Neil <script>"), ("", ""), ("{{ x }}", "{% y %}")]
NAMES += [("@@fragment-slot-name@@", ""), ("Tom &amp;", "Jerry"), ("Zoë", "Ångström")]
TITLES = ["CV rewrite", "<b>CV</b> & \"cover\" 'letter'", "", "@@fragment-slot-title@@ @@fragment-slot-pk@@"]
TITLES += ["Order 987654321987 due 1 Jan 0001", "£444,444,444,444.44", "a" * 160, "{{ o.pk }} {% url 'x' %}"]
CURRENCIES = ["GBP", "EUR", "USD", "JPY", "KWD", "BHD", "CHF", "XPF"]
AMOUNTS = [1, 5, 99, 100, 12_345, 999_999, 123_456_789, 2_147_483_647]
DEADLINES: list[datetime.date | None] = [
    datetime.date(2026, 12, 4),
    datetime.date(2026, 1, 31),
    datetime.date(1999, 12, 31),
]
DEADLINES += [datetime.date(2028, 2, 29), datetime.date(9999, 12, 31), datetime.date(2026, 5, 1), None]


def _people():
    """Clients and coaches as rows show them (in memory: a row reads nothing from the database)."""
    clients = [
        User(pk=100 + n, first_name=first, last_name=last, email=f"client{n}@example.com", role=Role.CLIENT)
        for n, (first, last) in enumerate(NAMES)
    ]
    coaches = [
        User(pk=200 + n, first_name=first, last_name=last, email=f"coach{n}@example.com", role=Role.COACH)
        for n, (first, last) in enumerate(reversed(NAMES))
    ]
    return clients, coaches


def _orders(count, seed=13):
    """(order, viewer) pairs with every status, escalated or not, each currency, amounts from 1 minor unit to the
    column's largest, deadlines in several months and years and none, titles and names to escape (and text that
    looks like a slot or a sentinel), seen by its client or its coach."""
    rng = random.Random(seed)
    clients, coaches = _people()
    shapes = list(itertools.product(OrderStatus.values, (False, True), CURRENCIES, ("client", "coach")))
    pairs = []
    for number in range(count):
        status, escalated, currency, seen_by = shapes[number % len(shapes)]
        client, coach = rng.choice(clients), rng.choice(coaches)
        order = Order(
            pk=rng.choice([1, 7, 42, 999, 1000, 123_456, 2**31 + number]) + number,
            client=client,
            coach=coach,
            title=rng.choice(TITLES),
            amount_minor=rng.choice(AMOUNTS),
            currency=currency,
            status=status,
            deadline=rng.choice(DEADLINES),
            escalated_at=timezone.now() - datetime.timedelta(days=rng.randint(0, 40)) if escalated else None,
            paid_at=timezone.now(),
        )
        viewer = client if seen_by == "client" else coach
        order.waiting_for = waiting_for(order, viewer)
        pairs.append((order, viewer))
    return pairs


def _real(order, viewer) -> str:
    return get_template(ROW).render({"o": order, "user": {"pk": viewer.pk}})


def _filled(order, viewer) -> str:
    return dashboards._order_row(order, viewer, translation.get_language())


def test_each_filled_row_is_the_templates_own_render():
    """Every row after its shape's first fill (each status, escalated or not, each currency, as client and as coach;
    ids of 1 to 10 digits, amounts, deadlines and none, titles and names to escape) is what a render prints. A
    Python value that differs from what the template prints for it (the deadline's format, the amount's) fails here
    even when it agrees for the first row of a shape."""
    pairs = _orders(6 * 2 * 8 * 2 * 6)  # each status, escalated or not, currency and viewer six times
    for order, viewer in pairs:
        assert _filled(order, viewer) == _real(order, viewer), (order.pk, order.deadline, order.currency)
    forms = {key: form for key, form in fragments._slotted_forms.items() if key[0] == ROW}
    assert len(forms) == 6 * 2 * 2  # the currency is not part of the shape
    assert None not in forms.values()  # every shape is filled in, none rendered for each row


def test_a_row_that_is_filled_in_renders_nothing(monkeypatch):
    pairs = _orders(3)
    order, viewer = pairs[0]
    twin = Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields})
    twin.client, twin.coach, twin.waiting_for = order.client, order.coach, order.waiting_for
    twin.pk, twin.title, twin.deadline = order.pk + 1, "Another title", datetime.date(2027, 3, 9)
    _filled(order, viewer)
    rendered: list = []
    render = type(get_template(ROW)).render
    monkeypatch.setattr(type(get_template(ROW)), "render", lambda *a, **k: rendered.append(1) or render(*a, **k))
    html = _filled(twin, viewer)
    assert rendered == []
    assert f'data-order-id="{twin.pk}"' in html and "Another title" in html and "9 Mar 2027" in html


def test_the_form_holds_no_rows_values():
    order, viewer = _orders(1)[0]
    order.title, order.pk, order.amount_minor, order.deadline = "Unique title", 31337, 271828, datetime.date(2027, 8, 9)
    order.currency = "GBP"
    _filled(order, viewer)
    ((key, form),) = fragments._slotted_forms.items()
    assert form is not None
    for shown in ("Unique title", "31337", "2,718.28", "9 Aug 2027", order.client.display_name):
        assert shown not in form
    for name in ("pk", "title", "name", "due", "amount", "waiting"):
        assert fragments.SLOT.format(name) in form
    for sentinel in (str(dashboards.STAND_IN_PK), "0001", "44,444"):
        assert sentinel not in form  # each sentinel's text marked, none left over


def _with_row(source):
    templates = [{**settings.TEMPLATES[0], "APP_DIRS": False}]
    loaders = [("django.template.loaders.locmem.Loader", {ROW: source}), *_default_loaders()]
    templates[0]["OPTIONS"] = {
        **templates[0]["OPTIONS"],
        "loaders": [("django.template.loaders.cached.Loader", loaders)],
    }
    return override_settings(TEMPLATES=templates)


def _default_loaders():
    return ["django.template.loaders.filesystem.Loader", "django.template.loaders.app_directories.Loader"]


def _row_source() -> str:
    return (settings.BASE_DIR / "templates" / ROW).read_text()


LEAKS = {
    "the-id-filtered": ('data-order-id="{{ o.pk }}"', 'data-order-id="{{ o.pk|add:1 }}"'),
    "the-year-alone": ('|date:"j M Y" }}', '|date:"j M Y" }} ({{ o.deadline|date:"Y" }})'),
    "the-raw-amount": (
        "{% money o.amount_minor o.currency %}",
        "{% money o.amount_minor o.currency %} ({{ o.amount_minor }})",
    ),
    "a-value-not-in-the-stand-in": ("{{ o.waiting_for }}", '{{ o.waiting_for }} {{ o.paid_at|date:"j M Y" }}'),
    "the-title-filtered": ("{{ o.title }}", "{{ o.title|upper }}"),
    "the-currency-beside-the-amount": (
        "{% money o.amount_minor o.currency %}",
        "{{ o.currency }} {% money o.amount_minor o.currency %}",
    ),
}


@pytest.mark.parametrize("leak", LEAKS.values(), ids=LEAKS.keys())
def test_a_row_that_prints_a_value_otherwise_is_rendered_for_each_row(leak):
    """A sentinel printed other than as marked (filtered, in part, raw), a value the stand-in lacks, a slot under a
    filter: the first fill differs from the real render, so no shape is filled in, and each row is still the
    template's own. (A test on a value outside the shape is not caught there when the first row agrees with the
    stand-in: test_each_filled_row_is_the_templates_own_render is what fails on it.)"""
    before, after = leak
    comment, markup = _row_source().split("{% endcomment %}")
    assert before in markup
    with _with_row(comment + "{% endcomment %}" + markup.replace(before, after, 1)):
        pairs = [pair for pair in _orders(200) if pair[0].status == OrderStatus.IN_PROGRESS]
        for order, viewer in pairs:
            assert _filled(order, viewer) == _real(order, viewer)
        forms = [form for key, form in fragments._slotted_forms.items() if key[0] == ROW]
        assert forms and set(forms) == {None}


def test_ids_printed_with_a_thousand_separator_are_rendered_for_each_row(settings):
    """{{ o.pk }} grouped (USE_THOUSAND_SEPARATOR) no longer prints what the URL does: the id's sentinel is left in
    the form, so the rows are rendered, and right."""
    settings.USE_THOUSAND_SEPARATOR = True
    pairs = _orders(40)
    for order, viewer in pairs:
        assert _filled(order, viewer) == _real(order, viewer)
    assert any("," in order_pk for order_pk in (f"{order.pk:,}" for order, _ in pairs))
    assert {form for key, form in fragments._slotted_forms.items() if key[0] == ROW} == {None}
