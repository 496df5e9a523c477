"""Whole pages of a signed-in user served from the cache until something they show changes (issue 13).

A logged-in page cost 3–7× the bare view even with its rows cached: the ORM, the template tree and the
navbar for every visit, though a dashboard or an order page changes only when someone writes to what it
shows. `@cached_page` keeps the page's HTML per user and URL under that user's version of "their pages"
(and the versions of any topic the page also shows, e.g. the open requests on a coach's dashboard). A
hit costs the session, the user row and one Redis round trip.

What makes a version move: every model is either followed, with the users who see its rows
(`follow(Order, lambda order: (order.client_id, order.coach_id))`, connected in the app that owns the
model, or the app above it that shows it), or `ignore`d because no cached page shows it; a test fails
on a model that is neither. Writes that skip the signals (`.update()`, `bulk_create`) call
`users_changed` themselves. What is left (a shell, a raw SQL fix, the clock: "3 hours ago") shows within
PAGE_SECONDS.

Bumps are collected per transaction and sent once it commits, with its other version bumps (one pipelined
round trip for a webhook's dozen writes); a page read in the same thread before then bumps what is
pending first, so a test or a view that renders inside the writing transaction sees its own writes.

The CSRF token is not kept: every masked token of the user's secret in the stored page is replaced by
a slot, filled with a fresh mask on each hit (BREACH). A page that showed flash messages, set a cookie or
answered other than 200 is not stored, and pending messages make a visit render afresh.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import wraps
from itertools import compress
from typing import Any

from django.apps import apps
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH
from django.utils import timezone, translation

from . import csrf
from .cache import (
    VERSION_SECONDS,
    _fresh_version,
    _version_key,
    bump_after_commit,
    bump_version_now,
    deferred_writes,
    end_prefetch,
    prefetch_for,
    recorded_reads,
    store,
)

SCOPE = "pages"
EVERYONE = 0  # the version every user's pages also depend on (a coach renamed, a rate changed)
PAGE_SECONDS = 60  # relative times and writes that skip the signals show within this
TOKEN_SLOT = "@@csrf-token-slot@@"
FRESH_SLOT = "@@fresh-value-slot-{}@@"
# Each byte that is no character of a masked token, as a space: a page's runs of token characters are then the
# words of its split(), in C (a regex over the page, \b[A-Za-z0-9]{64}\b, cost 4× as much: ~0.5 ms a dashboard)
_TOKEN_RUNS = bytes(byte if chr(byte) in CSRF_ALLOWED_CHARS else 0x20 for byte in range(256))
_TOKEN_LENGTH = 2 * CSRF_SECRET_LENGTH

Audience = Callable[..., Iterable[int | None] | None]
_AUDIENCES: dict[type[Model], list[Audience]] = {}
_IGNORED: set[type[Model]] = set()


class Everyone(Exception):
    """Raised by an audience: this write changes what every user's pages show."""


# --- what changed --------------------------------------------------------------------------------


_unread = threading.local()  # .pks: users whose pages this thread changed since it last read one


def _unread_pks() -> set[int]:
    if not hasattr(_unread, "pks"):
        _unread.pks = set()
    return _unread.pks


def users_changed(*user_ids: int | None) -> None:
    """What these users' pages show changed: their cached pages are stale once this commits (with the
    transaction's other version bumps, one round trip: core.cache.bump_after_commit), and at once for a
    page read in this thread before then."""
    pks = {pk for pk in user_ids if pk is not None}
    if not pks:
        return
    if not connection.in_atomic_block:
        bump_version_now(SCOPE, *pks)
        return
    bump_after_commit(SCOPE, *pks)
    _unread_pks().update(pks)


def _before_read() -> None:
    """This thread's own writes make its pages stale before it reads one (a test, a view that renders
    after writing). Left over from a transaction that rolled back, they cost one needless bump."""
    pks = _unread_pks()
    if pks:
        bump_version_now(SCOPE, *pks)
        pks.clear()


def everyone_changed() -> None:
    """Something every page may show changed (a user's name, an exchange rate)."""
    users_changed(EVERYONE)


def topic_changed(topic: str) -> None:
    """A topic some pages show besides their user's rows changed (the open requests every coach sees)."""
    users_changed(_topic_pk(topic))


def _topic_pk(topic: str) -> int:
    """Topics share the user scope under negative numbers, so a page's versions are one round trip."""
    return -int.from_bytes(hashlib.blake2b(topic.encode(), digest_size=6).digest(), "big") - 1


def follow(model: type[Model], audience: Audience) -> None:
    """`audience(instance, created=…, update_fields=…, deleted=…)` names the users whose cached pages show the row
    (or raises Everyone); each save and delete of `model` makes those pages stale. Several apps may
    follow one model (a file shows on orders, threads, comments): every audience is asked."""
    first = model not in _AUDIENCES
    _AUDIENCES.setdefault(model, []).append(audience)
    if first:
        label = model._meta.label_lower
        post_save.connect(_saved, sender=model, dispatch_uid=f"core.pages.save.{label}", weak=False)
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"core.pages.delete.{label}", weak=False)


def ignore(*models: type[Model]) -> None:
    """No cached page shows these models' rows (audit rows, webhook receipts, sessions)."""
    _IGNORED.update(models)


def audience_of(
    instance: Model, *, created: bool = False, update_fields: Iterable[str] | None = None, deleted: bool = False
) -> set[int]:
    """The users every follower of the instance's model names; {EVERYONE} when one said Everyone."""
    pks: set[int] = set()
    for audience in _AUDIENCES.get(type(instance), ()):
        try:
            named = audience(instance, created=created, update_fields=update_fields, deleted=deleted)
            pks.update(pk for pk in named or () if pk is not None)
        except Everyone:
            return {EVERYONE}
    return pks


def rows_changed(instance: Model) -> None:
    """For a write that sends no signal (`.update()` of one row): the row's audience, as a save would."""
    users_changed(*audience_of(instance))


def _saved(
    sender: type[Model], instance: Model, created: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    users_changed(*audience_of(instance, created=created, update_fields=update_fields))


def _deleted(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    users_changed(*audience_of(instance, deleted=True))


def unclassified_models() -> list[str]:
    """Models neither followed nor ignored: a new model must say whether a cached page shows it."""
    known = set(_AUDIENCES) | _IGNORED
    return sorted(m._meta.label for m in apps.get_models() if m not in known and not m._meta.auto_created)


# --- serving ---------------------------------------------------------------------------------------


def _versions(keys: list[str], found: dict[str, Any]) -> tuple:
    missing = [key for key in keys if found.get(key) is None]
    if missing:
        start_and_get_many = getattr(cache, "start_and_get_many", None)  # core.cache.RedisCache: one round trip
        if start_and_get_many is not None:
            found = {**found, **start_and_get_many(missing, _fresh_version(), VERSION_SECONDS)}
        else:
            for key in missing:
                cache.add(key, _fresh_version(), VERSION_SECONDS)
            found = {**found, **cache.get_many(missing)}
    return tuple(found.get(key) for key in keys)


def _page_key(request: HttpRequest) -> str:
    where = (
        request.get_full_path(),
        request.scheme,
        request.get_host(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
    )
    digest = hashlib.blake2b(repr(where).encode(), digest_size=16).hexdigest()
    return f"page:{request.user.pk}:{digest}"


def fresh_per_visit(request: HttpRequest) -> str:
    """A random hex value the page must show anew on every visit (a form's idempotency key: two tabs
    of one cached page must not send under one key). A cached page gets a new one on each hit."""
    value = uuid.uuid4().hex
    request.__dict__.setdefault("_fresh_per_visit", []).append(value)
    return value


def _with_slots(html: str, request: HttpRequest) -> tuple[str, int]:
    """The page with each masked token of the user's CSRF secret replaced by TOKEN_SLOT and each
    fresh_per_visit value by a FRESH_SLOT; and how many fresh values it had."""
    fresh = request.__dict__.get("_fresh_per_visit", [])
    for number, value in enumerate(fresh):
        html = html.replace(value, FRESH_SLOT.format(number))
    secret = request.META.get("CSRF_COOKIE")
    if secret:
        for token in {t for t in _token_shaped(html) if csrf.unmasked(t) == secret}:
            html = html.replace(token, TOKEN_SLOT)
    return html, len(fresh)


def _token_shaped(html: str) -> set[str]:
    """Every run of exactly a masked token's length of its characters (ASCII letters and digits) in the page:
    what \b[A-Za-z0-9]{64}\b finds, and also one beside an underscore or a letter outside ASCII."""
    runs = html.encode().translate(_TOKEN_RUNS).split()
    return {run.decode() for run in compress(runs, map(_TOKEN_LENGTH.__eq__, map(len, runs)))}  # C: no call per run


def _filled(html: str, fresh: int, request: HttpRequest) -> str:
    for number in range(fresh):
        html = html.replace(FRESH_SLOT.format(number), uuid.uuid4().hex)
    if TOKEN_SLOT in html:
        html = html.replace(TOKEN_SLOT, csrf.get_token(request))  # core.csrf's: Django's token, made in fewer calls
    return html


def _cacheable_visit(request: HttpRequest, staff: bool) -> bool:
    user = getattr(request, "user", None)
    if request.method != "GET" or user is None or not user.is_authenticated:
        return False
    if user.is_staff and not staff:
        return False  # staff see others' rows, which bump only their parties' versions
    return len(get_messages(request)) == 0  # a message to show: render it (and do not store it)


def _storable(response: HttpResponse, request: HttpRequest) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and len(get_messages(request)) == 0  # the view added a message (a warning about its filters)
        and "no-store" not in response.get("Cache-Control", "")
    )


# What a miss of each (view, user) read through cached_for last time (the navbar's bell count, the banner's
# verified email, a dashboard's threads and notifications): read ahead in one round trip on the next miss,
# instead of one each. Per user, since some names hold the user's own values (an email address). Bounded.
# Kept with the URL's integer arguments it was read for (an order page's order id): a name holding one of them
# (a value kept per object the URL names, "<name>:<id>"; the order page's Conversation card was one until it came
# with the order's statement in session 15) is read ahead with this URL's value in its place.
Reads = tuple[tuple[str, int, str], ...]
_READS: OrderedDict[tuple[str, int], tuple[tuple[str, ...], Reads]] = OrderedDict()
READS_SIZE = 10_000
_READS_LOCK = threading.Lock()
# A user this process has not served the view to reads ahead what the view's last miss read for its user, with
# that user's id replaced by theirs: the same names (a bell count, a dashboard's threads), so most of a first
# miss's values come in one round trip too. A name that holds the other user's own value (an email address)
# reads a key this user's page does not ask for, never a wrong value: cached_for takes only its own two keys.
_PATTERNS: dict[str, tuple[int, tuple[str, ...], Reads]] = {}


def _url_values(args: tuple, kwargs: dict) -> tuple[str, ...]:
    return tuple(str(value) for value in (*args, *kwargs.values()) if type(value) is int)


def _as_this(reads: Reads, user: tuple[int, int], values: tuple[tuple[str, ...], tuple[str, ...]]) -> Reads:
    """`reads` of user[0]'s miss of a URL with values[0], as user[1]'s of a URL with values[1] would be."""
    (other, user_pk), (then, now) = user, values
    swap = {old: new for old, new in zip(then, now, strict=True) if old != new} if len(then) == len(now) else {}
    if swap:
        reads = tuple(
            (scope, pk, ":".join(swap.get(part, part) for part in name.split(":"))) for scope, pk, name in reads
        )
    if other == user_pk:
        return reads
    return tuple((scope, user_pk if pk == other else pk, name) for scope, pk, name in reads)


def _render_reading_ahead(view: Callable[..., HttpResponse], request: HttpRequest, user_pk: int, *args, **kwargs):
    name = f"{view.__module__}.{view.__qualname__}"
    where = (name, user_pk)
    values = _url_values(args, kwargs)
    with _READS_LOCK:
        mine = _READS.get(where)
        pattern = _PATTERNS.get(name) if mine is None else None
    if mine is not None:
        ahead = _as_this(mine[1], (user_pk, user_pk), (mine[0], values))
    elif pattern is not None:
        ahead = _as_this(pattern[2], (pattern[0], user_pk), (pattern[1], values))
    else:
        ahead = ()
    try:
        prefetch_for(ahead)
        with recorded_reads() as reads:
            response = view(request, *args, **kwargs)
    finally:
        end_prefetch()
    read = tuple(dict.fromkeys(reads))
    if read != ahead:
        with _READS_LOCK:
            _READS[where] = (values, read)
            _READS.move_to_end(where)
            if len(_READS) > READS_SIZE:
                _READS.popitem(last=False)
            _PATTERNS[name] = (user_pk, values, read)
    return response


def cached_page(
    view: Callable[..., HttpResponse] | None = None,
    *,
    topics: Callable[[HttpRequest], Iterable[str]] | None = None,
    staff: bool = False,
    also: Callable[[HttpRequest], Iterable[tuple[str, int]]] | None = None,
) -> Any:
    """Serve a signed-in user's GET of this view from the cache while their pages' version (and each of
    `topics(request)`'s, and each (scope, pk) version of `also(request)`) is the one it was stored
    under. Staff are served afresh unless `staff=True` (a page that shows them only what `also` covers)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not _cacheable_visit(request, staff):
                return view(request, *args, **kwargs)
            _before_read()
            user_pk: int = request.user.pk  # type: ignore[assignment]  # signed in: _cacheable_visit
            version_keys = [_version_key(SCOPE, user_pk), _version_key(SCOPE, EVERYONE)]
            version_keys += [_version_key(SCOPE, _topic_pk(t)) for t in (topics(request) if topics else ())]
            version_keys += [_version_key(scope, pk) for scope, pk in (also(request) if also else ())]
            page_key = _page_key(request)
            found = cache.get_many([*version_keys, page_key])
            versions = _versions(version_keys, found)
            entry = found.get(page_key)
            if entry is not None and entry[0] == versions:
                content_type, html, fresh = entry[1]
                return HttpResponse(_filled(html, fresh, request), content_type=content_type)
            with deferred_writes():  # the values, fragments and page this miss stores: one round trip
                response = _render_reading_ahead(view, request, user_pk, *args, **kwargs)
                if _storable(response, request):
                    html, fresh = _with_slots(response.content.decode(response.charset), request)
                    store(page_key, (versions, (response["Content-Type"], html, fresh)), PAGE_SECONDS)
            return response

        return wrapper

    return decorate(view) if view is not None else decorate
