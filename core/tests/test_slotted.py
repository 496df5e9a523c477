"""core.fragments.printed prints a value as {{ value }} does, and slotted's marks put a slot where a sentinel that
cannot be a slot string (a date to format) is printed; a sentinel printed otherwise leaves the shape rendered."""

import datetime
from decimal import Decimal

import pytest
from django.template import engines
from django.template.defaultfilters import date as date_filter
from django.test import override_settings
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core import fragments


@pytest.fixture(autouse=True)
def no_forms():
    fragments._slotted_forms.clear()


VALUES = [
    "plain",
    "",
    "<b>bold</b> & \"double\" 'single'",
    "&amp; already escaped",
    "@@fragment-slot-x@@",
    mark_safe("<i>safe</i>"),
    gettext_lazy("Delivered"),
    0,
    7,
    1234567,
    -3,
    2.5,
    Decimal("1234.50"),
    datetime.date(2026, 12, 4),
    datetime.datetime(2026, 12, 4, 19, 0, tzinfo=datetime.UTC),
    None,
    True,
    ["a", "<b>"],
]


@pytest.mark.parametrize("grouped", [False, True])
def test_printed_is_what_a_template_prints(grouped):
    with override_settings(USE_THOUSAND_SEPARATOR=grouped):
        template = engines["django"].from_string("{{ value }}")
        for value in VALUES:
            assert fragments.printed(value) == template.render({"value": value}), value


def _locmem(source):
    from django.conf import settings

    templates = [{**settings.TEMPLATES[0], "APP_DIRS": False, "DIRS": []}]
    templates[0]["OPTIONS"] = {
        **templates[0]["OPTIONS"],
        "loaders": [("django.template.loaders.cached.Loader", [("django.template.loaders.locmem.Loader", source)])],
    }
    return override_settings(TEMPLATES=templates)


NO_DAY = datetime.date(1, 1, 1)


def _fill(day, name):
    return fragments.slotted(
        "dated.html",
        (),
        {"day": fragments.printed(date_filter(day, "j M Y")), "name": fragments.printed(name)},
        stand_in=lambda slots: {"day": NO_DAY, "name": slots["name"]},
        real=lambda: {"day": day, "name": name},
        marks={"day": "1 Jan 0001"},
    )


DAYS = [datetime.date(2026, 12, 4), datetime.date(2027, 1, 31), None, datetime.date(2028, 2, 29)]


def test_a_marked_sentinel_is_filled_in_for_each_visitor():
    with _locmem({"dated.html": '<p>{{ name }}, due {{ day|date:"j M Y" }}.</p>'}):
        for day in DAYS:
            for name in ("Ada", "<b>x</b>"):
                html = _fill(day, name)
                assert html == engines["django"].get_template("dated.html").render({"day": day, "name": name})
        (form,) = fragments._slotted_forms.values()
        assert form == f"<p>{fragments.SLOT.format('name')}, due {fragments.SLOT.format('day')}.</p>"


@pytest.mark.parametrize(
    "source",
    [
        '<p>{{ day|date:"j M Y" }} ({{ day|date:"Y" }})</p>',
        '<p>{{ day|date:"j F Y" }}</p>',
        '<p>{{ day|date:"D j M Y" }}</p>',
    ],
    ids=["the-year-again", "another-format", "a-weekday-before-it"],
)
def test_a_sentinel_printed_otherwise_leaves_the_shape_rendered(source):
    with _locmem({"dated.html": source}):
        for day in DAYS:
            assert _fill(day, "Ada") == engines["django"].get_template("dated.html").render({"day": day, "name": "Ada"})
        assert list(fragments._slotted_forms.values()) == [None]
