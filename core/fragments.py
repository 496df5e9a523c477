"""Rows of a page rendered once and then served from the cache, under a key of everything they show.

A list page renders one partial per row (a chat message, a receipt): 1,000–2,000 Python calls each,
most of a logged-in page's time (issue 13). The caller's `key(row)` names every value the partial
reads; a changed value is a different key, so a cached row is never stale and needs no invalidation
(entries simply age out). The template, the time zone and the language are added here. A row's
partial gets only `context(row)`: nothing of the request (no CSRF token), so nothing a key leaves out.
"""

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from html import escape as escape_html
from typing import Any, TypeVar

from django.core.cache import cache
from django.template import Context
from django.template.base import render_value_in_context
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from .cache import held_many, store_many

logger = logging.getLogger(__name__)

Row = TypeVar("Row")
ROW_SECONDS = 3600


def _cache_key(template_name: str, parts: Iterable[Any]) -> str:
    full = (template_name, timezone.get_current_timezone_name(), translation.get_language(), tuple(parts))
    return "fragment:" + hashlib.blake2b(repr(full).encode(), digest_size=20).hexdigest()


def rendered_each(
    template_name: str,
    rows: Sequence[Row],
    *,
    key: Callable[[Row], Iterable[Any]],
    context: Callable[[Row], dict[str, Any]],
    timeout: int = ROW_SECONDS,
) -> list[SafeString]:
    """`template_name` rendered with `context(row)` for each row, one cache round trip for all of them;
    only the rows not cached under `key(row)` are rendered (and stored)."""
    keys = [_cache_key(template_name, key(row)) for row in rows]
    found = {**cache.get_many(keys), **held_many(keys)} if keys else {}
    template = get_template(template_name)
    rendered: list[SafeString] = []
    missing: dict[str, str] = {}
    for cache_key, row in zip(keys, rows, strict=True):
        html = found.get(cache_key)
        if html is None:
            html = missing[cache_key] = template.render(context(row))
        rendered.append(mark_safe(html))  # noqa: S308 - the partial's own output
    if missing:
        store_many(missing, timeout)  # with the page's other writes, inside core.cache.deferred_writes()
    return rendered


# rendered_one's fragments also kept in this process (the navbar: one per visitor state, the same for
# every anonymous visitor), so a page that is otherwise served from the cache pays no round trip for it.
# Bounded: the least recently used go first. Keys hold every value shown, so nothing here goes stale.
_LOCAL: OrderedDict[str, SafeString] = OrderedDict()
LOCAL_SIZE = 256
# The id a stand-in row has (`slotted(..., marks=...)`): no row has it (ids are far below), and it prints as itself
# in a URL's <int:pk> and in {{ pk }}, so its text marks where each row's own id goes.
STAND_IN_PK = 987_654_321_987
_LOCAL_LOCK = threading.Lock()


def rendered_one(
    template_name: str, key: Iterable[Any], context: Callable[[], dict[str, Any]], timeout: int = ROW_SECONDS
) -> SafeString:
    """rendered_each for one fragment (the navbar): `key` must hold every value the template shows;
    `context()` is asked only on a miss. Served from this process's memory when it rendered or read it."""
    parts = tuple(key)
    local_key = _cache_key(template_name, parts)
    with _LOCAL_LOCK:  # sync views run in threads under ASGI
        html = _LOCAL.get(local_key)
        if html is not None:
            _LOCAL.move_to_end(local_key)
            return html
    html = rendered_each(template_name, [None], key=lambda _: parts, context=lambda _: context(), timeout=timeout)[0]
    with _LOCAL_LOCK:
        _LOCAL[local_key] = html
        if len(_LOCAL) > LOCAL_SIZE:
            _LOCAL.popitem(last=False)
    return html


# A fragment that differs from one visitor to the next only in a few printed values (the navbar: the name
# and the bell count; a dashboard's order row) is rendered once per process and shape with a slot for each of
# them, then filled in with each visitor's values, escaped as the template escapes them: no render, no cache
# round trip (issue 13). A value the template cannot print as a slot string (an argument to {% url %}, a date to
# format, an amount for {% money %}) is given as a sentinel nobody has, and the text it prints as is marked.
# The first fill of each shape is checked against a real render; a template that prints the values otherwise
# (a filter, a test on them) or prints anything of the stand-in it was not given is rendered each time.
SLOT = "@@fragment-slot-{}@@"
_SLOT_NAME = re.compile(r"@@fragment-slot-([a-z_]+)@@")
_AS_A_TEMPLATE = Context(autoescape=True)  # how a {{ value }} prints (read only)
_slotted_forms: dict[tuple, str | None] = {}
_SLOTTED_SIZE = 256
_MISSING: Any = object()
_NO_MARKS: dict[str, str] = {}


def printed(value: Any) -> str:
    """`value` as `{{ value }}` prints it in an autoescaping template (localised, escaped)."""
    if type(value) is str:  # neither localised nor safe: what conditional_escape does to it, without its checks
        return SafeString(escape_html(value))
    return render_value_in_context(value, _AS_A_TEMPLATE)


def slotted(
    template_name: str,
    shape: Iterable[Any],
    values: dict[str, str],
    *,
    stand_in: Callable[[dict[str, str]], dict[str, Any]],
    real: Callable[[], dict[Any, Any]],
    marks: dict[str, str] = _NO_MARKS,
) -> SafeString:
    """`template_name` rendered with `real()`, from its form for `shape` with `values` in the slots.

    `shape` names everything the template tests or prints besides the slots; `stand_in(slots)` is the context
    of that shape with each of `values`' names given as its slot (only what the shape names: anything else
    of the visitor's must be missing from it, so that the first fill's check fails on it); `values` are what
    each slot prints for this visitor, as the template prints them (`printed()` for a `{{ value }}`).

    `marks` names the values that cannot pass through the template as a slot string: for each, the text that
    the stand-in's sentinel for it prints as (the sentinel an id, a date or an amount nobody has). That text is
    replaced in the form by the value's slot, the longest text first; a sentinel printed in any other way stays
    in the form, so the first fill differs from the real render and the shape is rendered for every visitor."""
    template = get_template(template_name)
    # Its compiled template is a new object when the loaders are reset (autoreload after an edit).
    key = (template_name, getattr(template, "template", template), translation.get_language(), *shape)
    form = _slotted_forms.get(key, _MISSING)
    if form is None:
        return mark_safe(template.render(real()))  # noqa: S308 - the template's own output
    if form is _MISSING:
        form = template.render(stand_in({name: SLOT.format(name) for name in values}))
        for name, text in sorted(marks.items(), key=lambda mark: -len(mark[1])):
            form = form.replace(text, SLOT.format(name))
        html = template.render(real())
        usable = _SLOT_NAME.sub(lambda match: values[match[1]], form) == html
        if not usable:
            logger.warning("%s prints more than its slots: rendered for each visitor", template_name)
        if len(_slotted_forms) >= _SLOTTED_SIZE:
            _slotted_forms.clear()  # shapes are few (the navbar's ~10, the order rows' 16); only a reload makes more
        _slotted_forms[key] = form if usable else None
        return mark_safe(html)  # noqa: S308 - the template's own output
    return mark_safe(_SLOT_NAME.sub(lambda match: values[match[1]], form))  # noqa: S308 - values escaped as the template escapes them
