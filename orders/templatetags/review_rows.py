"""The coach dashboard's reviews waiting for a reply, each filled in from its per-process form (core.fragments.slotted),
as the dashboards' order rows are: three reviews with their reply forms were about a third of a cold coach
dashboard's Python calls (issue 13).

The review's and its order's ids cannot pass through {% url %} and the date cannot pass through |date as slot
strings, so the stand-in has ids and a creation time no review has, and the text each prints as is marked. The
title and the comment are printed truncated, which leaves a slot's text whole, so their values are truncated here
as the filters truncate them. The CSRF token is the page's (the same lazy token every {% csrf_token %} prints)."""

import datetime
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in the stubs

from core.fragments import STAND_IN_PK, printed, slotted

register = template.Library()

REVIEW_ROW = "orders/partials/_review_to_answer.html"
_NO_ORDER = 987_654_321_986
_NO_CREATED = datetime.datetime(2, 2, 2, 12, tzinfo=datetime.UTC)  # "2 Feb 0002" in every time zone
_CREATED = "j M Y"  # the row's review.created_at|date:"j M Y"
_TITLE_CHARS = 40  # |truncatechars:40
_COMMENT_WORDS = 40  # |truncatewords:40
_NO_TOKEN = ("", "NOTPROVIDED")  # what {% csrf_token %} prints nothing for


def _created(moment: datetime.datetime) -> str:
    """`moment` as the row prints it: in the current time zone (|date expects local time), then formatted."""
    return printed(date_filter(template_localtime(moment), _CREATED))


@lru_cache(maxsize=64)
def _marks(zone: str, language: str | None) -> dict[str, str]:
    return {"pk": str(STAND_IN_PK), "order": str(_NO_ORDER), "created": _created(_NO_CREATED)}


@register.simple_tag(takes_context=True)
def review_rows(context, reviews) -> list[SafeString]:
    """Each of `reviews` (with client and order joined) as orders/partials/_review_to_answer.html renders it."""
    token = context.get("csrf_token")
    marks = _marks(timezone.get_current_timezone_name(), translation.get_language())
    return [_review_row(review, token, marks) for review in reviews]


def _review_row(review, token: Any, marks: dict[str, str]) -> SafeString:
    has_token = bool(token) and str(token) not in _NO_TOKEN
    values = {
        "pk": str(review.pk),  # as {{ review.pk }} prints it ungrouped (grouped, the form never fits: rendered)
        "order": str(review.order_id),  # what the paths' <int:pk> print
        "name": printed(review.client.first_name or "A client"),  # |default:"A client"
        "created": _created(review.created_at),
        "title": printed(Truncator(review.order.title).chars(_TITLE_CHARS)),
        "comment": printed(Truncator(review.comment).words(_COMMENT_WORDS, truncate=" …")),
        "token": printed(str(token)) if has_token else "",
    }
    return slotted(
        REVIEW_ROW,
        (review.rating, bool(review.comment), has_token),
        values,
        stand_in=lambda slots: _stand_in(slots, review, has_token=has_token),
        real=lambda: {"review": review, "csrf_token": token},
        marks=marks,
    )


def _stand_in(slots: dict[str, str], review, *, has_token: bool) -> dict[str, Any]:
    """A review as the row may see it: the shape's values, slots and sentinels for the rest."""
    stand_in = SimpleNamespace(
        pk=STAND_IN_PK,
        rating=review.rating,
        client=SimpleNamespace(first_name=slots["name"]),
        created_at=_NO_CREATED,
        order_id=_NO_ORDER,
        order=SimpleNamespace(title=slots["title"]),
        comment=slots["comment"] if review.comment else "",
    )
    return {"review": stand_in, "csrf_token": slots["token"] if has_token else None}
