"""The public coach directory: parse the filters in the URL, build one indexed query.

Bad filter values never fail the page: each is dropped with a notice saying why, and the
remaining filters still apply. The query's cost does not grow with the page: one query for the ids of the
first matches in order (cached per filters and sort, so it also serves the next pages), and for
cards not rendered yet their coaches with two prefetches (services, languages).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import dateformat
from django.utils.safestring import mark_safe

from core import sqlmemo
from core.money import CURRENCY_SYMBOLS, exponent, format_money, to_minor

from . import pricing
from .models import CoachProfile, CoachService, DirectoryOffer, ExchangeRate, Language, ServiceType

PAGE_SIZE = 12
COUNT_CAP = 500
MAX_QUERY_LENGTH = 100
MAX_QUERY_WORDS = 8
MAX_PRICE_MAJOR = Decimal("100000")
LANGUAGES_CACHE_KEY = "coaches:languages:v4"  # bump when the cached shape changes
LANGUAGES_CACHE_SECONDS = 600
VERSION_KEY = "coaches:directory:version"
FACTS_KEY = "coaches:facts:v1"  # bump when the cached shape changes
FACTS_SECONDS = 600
CURRENCY_COOKIE = "currency"

SORTS = {
    "rating": "Highest rated",
    "price": "Lowest price",
    "response_time": "Fastest response",
    "newest": "Newest",
}
DEFAULT_SORT = "rating"
TRUE_VALUES = {"1", "true", "on", "yes"}
FALSE_VALUES = {"", "0", "false", "off", "no"}
RATING_CHOICES = [("4.5", "4.5 and up"), ("4", "4 and up"), ("3.5", "3.5 and up"), ("3", "3 and up")]


def directory_changed() -> None:
    """Make every cached directory result stale at once (a coach, their services or account changed).

    Call it after commit: the next request then sees the committed rows.
    """
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # never set, or evicted
        cache.set(VERSION_KEY, 1, None)


def _current(keys: list[str]) -> tuple[int, dict]:
    """One round trip: the directory version, and the entries among `keys` stamped with it
    (an entry stamped with an older version is stale: a miss)."""
    found = cache.get_many([*keys, VERSION_KEY])
    version = found.pop(VERSION_KEY, 0)
    return version, {key: entry[1] for key, entry in found.items() if entry and entry[0] == version}


def _store(entries: Mapping[str, object], version: int) -> None:
    if entries:
        cache.set_many(
            {key: (version, value) for key, value in entries.items()}, settings.COACH_DIRECTORY_CACHE_SECONDS
        )


def cached_with_directory(key: str, compute: Callable[[], Any]) -> Any:
    """A value derived from coaches, their services and reviews (the landing's figures), cached
    until any of them changes (directory_changed) or COACH_DIRECTORY_CACHE_SECONDS pass.
    One round trip on a hit; `compute` runs only on a miss."""
    version, fresh = _current([key])
    if key in fresh:
        return fresh[key]
    value = compute()
    if settings.COACH_DIRECTORY_CACHE_SECONDS > 0:
        _store({key: value}, version)
    return value


@dataclass(frozen=True)
class Rate:
    currency: str
    units_per_base: Decimal
    as_of: Any  # datetime.date; None for the base currency

    @property
    def text(self) -> str:
        """“1.17”, not “1.17000000”."""
        return f"{self.units_per_base.normalize():f}"


@dataclass(frozen=True)
class DirectoryFacts:
    """What every directory request needs besides its results, from three small queries on a miss:
    the exchange rates, the languages some listed coach offers, and the currencies listed coaches price
    in that have no rate (their prices cannot be compared: coaches.pricing)."""

    rates: dict[str, Rate]
    offered_language_ids: frozenset[int]
    unrated_currencies: tuple[str, ...]

    @property
    def base(self) -> str:
        return settings.DEFAULT_CURRENCY

    def rate(self, currency: str) -> Decimal | None:
        found = self.rates.get(currency)
        return None if found is None else found.units_per_base

    def currency_choices(self) -> list[tuple[str, str]]:
        codes = [self.base, *sorted(code for code in self.rates if code != self.base)]
        return [(code, f"{code} {CURRENCY_SYMBOLS.get(code, '')}".strip()) for code in codes]

    def shown_rates(self) -> list[Rate]:
        return [rate for code, rate in sorted(self.rates.items()) if code != self.base]

    def rates_text(self) -> str:
        """“1 GBP = 1.17 EUR (30 Nov 2026); …”: the directory's note on the rates used, as the date filter
        writes dates (made here: the template loop cost ~500 calls a page)."""
        return "; ".join(
            f"1 {self.base} = {rate.text} {rate.currency} ({dateformat.format(rate.as_of, 'j M Y')})"
            for rate in self.shown_rates()
        )


def _compute_facts() -> DirectoryFacts:
    base = settings.DEFAULT_CURRENCY
    rates = {base: Rate(base, Decimal(1), None)}
    for currency, units, as_of in ExchangeRate.objects.values_list("currency", "units_per_base", "as_of"):
        rates[currency] = Rate(currency, units, as_of)
    listed = CoachProfile.objects.listed()
    offered = CoachProfile.languages.through.objects.filter(coachprofile__in=listed).values_list(
        "language_id", flat=True
    )
    unrated = (
        CoachService.objects.filter(coach__in=listed, is_active=True)
        .exclude(currency__in=list(rates))
        .order_by()  # the model's ordering would join DISTINCT and repeat currencies
        .values_list("currency", flat=True)
        .distinct()
    )
    return DirectoryFacts(rates, frozenset(offered.distinct()), tuple(sorted(set(unrated))))


_last_facts: DirectoryFacts | None = None  # the facts this process read last, whatever their version


def _facts_from(version: int, fresh: dict) -> DirectoryFacts:
    """The facts among `fresh` (entries stamped with `version`), else computed and stored with it."""
    global _last_facts
    facts = fresh.get(FACTS_KEY)
    if not isinstance(facts, DirectoryFacts):
        facts = _compute_facts()
        cache.set(FACTS_KEY, (version, facts), FACTS_SECONDS)
    _last_facts = facts
    return facts


def directory_facts() -> DirectoryFacts:
    """The facts, from the shared cache while the directory version holds (one round trip), else three
    queries. Kept whatever COACH_DIRECTORY_CACHE_SECONDS says: the facts are small and every change to
    them (a rate, a coach's languages, a service, a listing) bumps the version."""
    return _facts_from(*_current([FACTS_KEY]))


def _cacheable_page(page: str) -> bool:
    """Odd page values are rare; do not let them fill the cache."""
    return not page or (page.isdigit() and len(page) <= 4)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultsCache:
    """Rendered result pages, one per (filters, page), and the matching coach ids, one list per
    (filters, sort), all stamped with the directory version (directory_changed() bumps it).

    One round trip per request fetches the page, the id list, the version and the facts (read_directory),
    one more the cards of a page not cached, and one stores the page, its ids and its new cards. The id list
    serves every page of its filters and sort, so paging through results runs no query for ids.
    """

    def __init__(self, filters: Filters, page: str):
        self.key = self.ids_key = None
        self.version = 0
        self.ids: list[int] | None = None  # the matching ids, once known
        self.ids_are_new = False
        self.pending: dict[str, object] = {}  # cards rendered for this page, stored with it (set)
        if settings.COACH_DIRECTORY_CACHE_SECONDS > 0:
            self.ids_key = "coaches:ids:" + digest(filters.querystring())
            if _cacheable_page(page):
                self.key = "coaches:directory:" + digest(f"{filters.querystring()}|{page}")

    @property
    def card_version(self) -> int | None:
        """The version cards are stamped with, or None when caching is off."""
        return self.version if settings.COACH_DIRECTORY_CACHE_SECONDS > 0 else None

    def keys(self) -> list[str]:
        return [key for key in (self.key, self.ids_key) if key]

    def take(self, version: int, found: dict) -> str | None:
        """The page body among `found` (entries stamped with `version`, from _current), keeping its ids."""
        self.version = version
        self.ids = found.get(self.ids_key) if self.ids_key else None
        return found.get(self.key) if self.key else None

    def get(self) -> str | None:
        if self.ids_key is None:
            return None
        return self.take(*_current(self.keys()))

    def matching_ids(self, filters: Filters, facts: DirectoryFacts | None = None) -> list[int]:
        """The ids of the first COUNT_CAP + 1 matches in sort order, from the cache or one query."""
        if self.ids is None:
            self.ids = matching_ids(filters, facts)
            self.ids_are_new = True
        return self.ids

    def set(self, body: str) -> None:
        """Store the body, new ids and the cards rendered for them (`pending`, from render_cards): one round trip."""
        entries: dict[str, object] = {**self.pending}
        if self.key is not None:
            entries[self.key] = body
        if self.ids_key is not None and self.ids_are_new and self.ids is not None:
            entries[self.ids_key] = self.ids
        _store(entries, self.version)


def read_directory(
    query, page: str, preferred_currency: str = ""
) -> tuple[DirectoryFacts, Filters, ResultsCache, str | None]:
    """The facts, the filters read with them, their ResultsCache and its cached page body: one round trip.

    The filters, and so the results' keys, depend on the facts only through which currencies have a rate
    (parse_filters). So they are read with the facts this process saw last, and one get_many brings the
    version, the facts and the results. Only when the fresh facts rate other currencies (a rate was set or
    removed) are the filters read again, and the results looked up again if their keys changed."""
    guess = _last_facts
    if guess is None:  # the first directory request of this process
        facts = directory_facts()
        filters = parse_filters(query, facts=facts, preferred_currency=preferred_currency)
        results = ResultsCache(filters, page)
        return facts, filters, results, results.get()
    filters = parse_filters(query, facts=guess, preferred_currency=preferred_currency)
    results = ResultsCache(filters, page)
    version, fresh = _current([FACTS_KEY, *results.keys()])
    facts = _facts_from(version, fresh)
    body = results.take(version, fresh) if results.keys() else None
    if facts.rates.keys() != guess.rates.keys():
        filters = parse_filters(query, facts=facts, preferred_currency=preferred_currency)
        again = ResultsCache(filters, page)
        if again.keys() != results.keys():
            results, body = again, again.get()
    return facts, filters, results, body


class CoachPageCache:
    """A coach's public page body (profile, services, rating distribution, one page of reviews),
    rendered once per (coach, review page, whether request buttons show) and stamped with the
    directory version, which every profile, service, account, photo and review change bumps.

    Only listed coaches' pages are stored, so a hit never shows an unlisted coach: unlisting
    bumps the version first. The owner's preview (with its notice) is never served from here.
    """

    def __init__(self, coach_id: int, review_page: str, can_request: bool):
        self.key = None
        self.version = 0
        if settings.COACH_DIRECTORY_CACHE_SECONDS > 0 and _cacheable_page(review_page):
            self.key = f"coaches:page:{coach_id}:{review_page or 1}:{int(can_request)}"

    def get(self) -> dict | None:
        """{"owner_id", "name", "headline", "body"} of a still-current entry, else None."""
        if self.key is None:
            return None
        self.version, found = _current([self.key])
        return found.get(self.key)

    def set(self, page: dict) -> None:
        if self.key is not None:
            _store({self.key: page}, self.version)


_languages_memo: tuple[float, list[tuple[str, str, int]]] = (0.0, [])


def _languages() -> list[tuple[str, str, int]]:
    """(code, name, id) of every language: seeded data that rarely changes, so kept in the shared
    cache and, for a minute, in the process (a directory page asks up to three times)."""
    global _languages_memo
    expires, languages = _languages_memo
    if time.monotonic() < expires:
        return languages
    languages = cache.get(LANGUAGES_CACHE_KEY)
    if languages is None:
        languages = list(Language.objects.order_by("name").values_list("code", "name", "id"))
        cache.set(LANGUAGES_CACHE_KEY, languages, LANGUAGES_CACHE_SECONDS)
    if languages:
        _languages_memo = (time.monotonic() + 60, languages)
    return languages


def forget_languages() -> None:
    """Drop the cached languages (a language was added, renamed or removed)."""
    global _languages_memo
    _languages_memo = (0.0, [])
    cache.delete(LANGUAGES_CACHE_KEY)


def language_choices() -> list[tuple[str, str]]:
    """(code, name) of every language, for the filter form and labels."""
    return [(code, name) for code, name, _ in _languages()]


def offered_language_choices(facts: DirectoryFacts, selected: str = "") -> list[tuple[str, str]]:
    """(code, name) of the languages some listed coach offers, for the filter form (plus the selected
    one, so a shared link's choice still shows). A language nobody offers would only lead nowhere."""
    return [(code, name) for code, name, pk in _languages() if pk in facts.offered_language_ids or code == selected]


def language_id(code: str) -> int | None:
    """The id behind a language code: the filter then matches the through table's own column,
    which the planner has statistics for (a join on the code hides how common a language is)."""
    return next((pk for known, _, pk in _languages() if known == code), None)


@dataclass
class Filters:
    service: str = ""
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    min_rating: Decimal | None = None
    language: str = ""
    available: bool = False
    verified: bool = False
    q: str = ""
    sort: str = DEFAULT_SORT
    currency: str = ""  # the viewer's: prices are compared and shown in it (base currency when empty)
    notices: list[str] = field(default_factory=list)

    @property
    def shown_currency(self) -> str:
        return self.currency or settings.DEFAULT_CURRENCY

    @property
    def compares_prices(self) -> bool:
        return self.min_price is not None or self.max_price is not None or self.sort == "price"

    def params(self) -> dict[str, str]:
        """The valid filters as URL parameters (what pagination and sharing links carry)."""
        values = {
            "q": self.q,
            "service": self.service,
            "min_price": _plain(self.min_price),
            "max_price": _plain(self.max_price),
            "min_rating": _plain(self.min_rating),
            "language": self.language,
            "available": "1" if self.available else "",
            "verified": "1" if self.verified else "",
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
            "currency": "" if self.shown_currency == settings.DEFAULT_CURRENCY else self.currency,
        }
        return {key: value for key, value in values.items() if value}

    def querystring(self, **overrides) -> str:
        params = self.params()
        for key, value in overrides.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return urlencode(params)

    def active(self) -> list[dict[str, str]]:
        """Each active filter as a chip: its label and a link that removes just that filter."""
        chips = []

        def chip(key, label):
            chips.append({"key": key, "label": label, "remove": "?" + self.querystring(**{key: None})})

        if self.q:
            chip("q", f"Matching “{self.q}”")
        if self.service:
            chip("service", ServiceType(self.service).label)
        if self.min_price is not None:
            chip("min_price", f"From {money_label(self.min_price, self.shown_currency)}")
        if self.max_price is not None:
            chip("max_price", f"Up to {money_label(self.max_price, self.shown_currency)}")
        if self.min_rating is not None:
            chip("min_rating", f"Rated {_plain(self.min_rating)}+")
        if self.language:
            chip("language", f"Writes in {dict(language_choices()).get(self.language, self.language)}")
        if self.available:
            chip("available", "Taking new work")
        if self.verified:
            chip("verified", "Verified only")
        return chips


def _plain(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def money_label(value: Decimal, currency: str) -> str:
    """A typed bound as a chip says it: “£100”, “€72.50”, “100 CHF”."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{_plain(value)}" if symbol else f"{_plain(value)} {currency}"


def _decimal(raw: str, label: str, notices: list[str], *, low: Decimal, high: Decimal) -> Decimal | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        notices.append(f"We ignored the {label} “{raw[:20]}”: it is not a number.")
        return None
    if not value.is_finite() or value < low or value > high:
        notices.append(f"We ignored the {label} “{raw[:20]}”: it must be between {low} and {high}.")
        return None
    return value.quantize(Decimal("0.01"))


def _price_minor(value: Decimal | None, currency: str) -> int | None:
    """A price bound typed in the viewer's currency, in its minor units."""
    if value is None:
        return None
    return to_minor(value.quantize(Decimal(1).scaleb(-exponent(currency))), currency)


def _flag(raw: str | None, label: str, notices: list[str]) -> bool:
    value = (raw or "").strip().lower()
    if value in TRUE_VALUES:
        return True
    if value not in FALSE_VALUES:
        notices.append(f"We ignored “{value[:20]}” for {label}: use 1 or leave it out.")
    return False


def parse_filters(query, *, facts: DirectoryFacts | None = None, preferred_currency: str = "") -> Filters:
    """Read the directory filters from a QueryDict; invalid values are dropped with a notice.

    The viewer's currency is `currency` in the query, else `preferred_currency` (the page's cookie),
    else the base currency; only the base currency and currencies with an exchange rate can be chosen."""
    notices: list[str] = []
    filters = Filters(notices=notices)
    facts = facts or directory_facts()

    typed = query.get("currency", "").strip().upper()
    if typed and typed in facts.rates:
        filters.currency = "" if typed == facts.base else typed
    elif typed:
        notices.append(f"We ignored the currency “{typed[:8]}”: choose one from the list.")
    if not typed and preferred_currency in facts.rates and preferred_currency != facts.base:
        filters.currency = preferred_currency

    service = query.get("service", "").strip()
    if service in ServiceType.values:
        filters.service = service
    elif service:
        notices.append(f"We ignored the service “{service[:20]}”: choose one from the list.")

    filters.min_price = _decimal(
        query.get("min_price", ""), "minimum price", notices, low=Decimal(0), high=MAX_PRICE_MAJOR
    )
    filters.max_price = _decimal(
        query.get("max_price", ""), "maximum price", notices, low=Decimal(0), high=MAX_PRICE_MAJOR
    )
    if filters.min_price is not None and filters.max_price is not None and filters.min_price > filters.max_price:
        filters.min_price, filters.max_price = filters.max_price, filters.min_price
        notices.append("The minimum price was above the maximum, so we swapped them.")

    filters.min_rating = _decimal(
        query.get("min_rating", ""), "minimum rating", notices, low=Decimal(0), high=Decimal(5)
    )

    language = query.get("language", "").strip().lower()
    if language and language in dict(language_choices()):
        filters.language = language
    elif language:
        notices.append(f"We ignored the language “{language[:20]}”: choose one from the list.")

    filters.available = _flag(query.get("available"), "“taking new work”", notices)
    filters.verified = _flag(query.get("verified"), "“verified only”", notices)
    filters.q = " ".join(query.get("q", "").split())[:MAX_QUERY_LENGTH]

    sort = query.get("sort", "").strip()
    if sort in SORTS:
        filters.sort = sort
    elif sort:
        notices.append(f"We ignored the sort order “{sort[:20]}”: sorted by {SORTS[DEFAULT_SORT].lower()}.")
    return filters


def search(filters: Filters, facts: DirectoryFacts | None = None) -> QuerySet[CoachProfile]:
    """Listed coaches matching `filters`, in the chosen order (take their ids; render_cards loads
    what a card shows, and only for cards that are not cached).

    Prices are compared in the base currency: each service's price_base_minor (coaches.pricing), with the
    viewer's bounds converted to exact bounds on it, so a bound means the same as the converted price the
    card shows. A price in a currency without a rate has no base price: it matches no price bound and
    sorts after every comparable price (the page says so: price_notices).

    A chosen service is a join on (coach, service_type), unique per coach, so its price bounds and
    price order use the index (service_type, is_active, price_base_minor) and rows are never repeated.
    Without a service, price bounds mean "offers some service in range" and the price order
    uses the coach's derived cheapest base price (price_from_base_minor).
    """
    shape, values = _search_terms(filters, facts)
    return _build_search(shape, values)


def _search_terms(filters: Filters, facts: DirectoryFacts | None = None) -> tuple[tuple, dict[str, Any]]:
    """search() as a query shape (what changes the SQL's text) and the values that fill it (core.sqlmemo)."""
    facts = facts or directory_facts()
    currency = filters.shown_currency
    rate = facts.rate(currency) or Decimal(1)  # parse_filters only chooses currencies with a rate
    low, high = pricing.base_bounds(
        _price_minor(filters.min_price, currency), _price_minor(filters.max_price, currency), currency, rate, facts.base
    )
    values: dict[str, Any] = {}
    if filters.service:
        values["service"] = filters.service
    if low is not None:
        values["low"] = low
    if high is not None:
        values["high"] = high
    if filters.min_rating is not None:
        values["min_rating"] = filters.min_rating
    if filters.language:
        values["language"] = language_id(filters.language)  # None: removed since the filters were read
    for index, word in enumerate(filters.q.lower().split()[:MAX_QUERY_WORDS]):
        values[f"word{index}"] = word
    return ("directory", filters.available, filters.verified, filters.sort), values


def _build_search(shape: tuple, values: dict[str, Any]) -> QuerySet[CoachProfile]:
    sort = shape[3]
    qs = CoachProfile.objects.listed()
    service, low, high = values.get("service"), values.get("low"), values.get("high")
    if service:
        bounds = {"services__service_type": service, "services__is_active": True}
        if low is not None:
            bounds["services__price_base_minor__gte"] = low
        if high is not None:
            bounds["services__price_base_minor__lte"] = high
        qs = qs.filter(**bounds)
    else:
        if high is not None:
            # Some service costs at most `high` exactly when the cheapest one does (indexed).
            qs = qs.filter(price_from_base_minor__lte=high)
        if low is not None:
            in_range = CoachService.objects.filter(coach=OuterRef("pk"), is_active=True, price_base_minor__gte=low)
            if high is not None:
                in_range = in_range.filter(price_base_minor__lte=high)
            qs = qs.filter(Exists(in_range))

    qs = qs.filter(_coach_conditions(shape, values))
    if "language" in values:
        spoken = values["language"]
        if spoken is None:  # nobody speaks it
            qs = qs.none()
        else:
            # EXISTS on the through table's (coachprofile, language) index: no duplicates, stops at the first row.
            speaks = CoachProfile.languages.through.objects.filter(coachprofile_id=OuterRef("pk"), language_id=spoken)
            qs = qs.filter(Exists(speaks))
    if sort == "price":
        # Reuses the service join above when a service is chosen; prices without a rate come last.
        price = F("services__price_base_minor") if service else F("price_from_base_minor")
        qs = qs.order_by(price.asc(nulls_last=True), "id")
    elif sort == "response_time":
        qs = qs.order_by(F("response_time_hours").asc(nulls_last=True), "id")
    elif sort == "newest":
        qs = qs.order_by("-created_at", "-id")
    else:
        # The Bayesian score (coaches.pricing.rating_score): many good reviews beat one perfect one.
        qs = qs.order_by("-rating_score", "-ratings_count", "id")

    return qs


def _coach_conditions(shape: tuple, values: dict[str, Any], prefix: str = "") -> Q:
    """The filters on the profile's own columns (rating, available, verified, search words), reached from
    the profile (prefix "") or from its directory offers ("coach__")."""
    _, available, verified, _sort = shape
    conditions = Q()
    if "min_rating" in values:
        conditions &= Q(**{f"{prefix}rating_avg__gte": values["min_rating"]})
    if available:
        conditions &= Q(**{f"{prefix}is_available": True})
    if verified:
        conditions &= Q(**{f"{prefix}is_verified": True})
    index = 0
    while f"word{index}" in values:
        # Every word must appear in the name, headline or bio (trigram index on PostgreSQL).
        conditions &= Q(**{f"{prefix}search_text__contains": values[f"word{index}"]})
        index += 1
    return conditions


def _by_offers(shape: tuple, values: dict[str, Any]) -> bool:
    """A chosen service in a chosen language, by price: the directory offers hold exactly those rows
    (listed coaches' active services × their languages) in that order, so no row probes the profile or
    the languages. Other filter sets read the profiles (search())."""
    return shape[3] == "price" and bool(values.get("service")) and values.get("language") is not None


def _build_offer_ids(shape: tuple, values: dict[str, Any]) -> QuerySet:
    """search()'s ids for a filter set _by_offers serves, from the offers' index (service, language, price,
    coach): the same rows in the same order (price, NULLS LAST, then the coach's id)."""
    offers = DirectoryOffer.objects.filter(service_type=values["service"], language_id=values["language"])
    if values.get("low") is not None:
        offers = offers.filter(price_base_minor__gte=values["low"])
    if values.get("high") is not None:
        offers = offers.filter(price_base_minor__lte=values["high"])
    offers = offers.filter(_coach_conditions(shape, values, prefix="coach__"))
    return offers.order_by(F("price_base_minor").asc(nulls_last=True), "coach_id").values_list("coach_id")


def _build_ids(shape: tuple, values: dict[str, Any]) -> QuerySet:
    ids = (
        _build_offer_ids(shape, values) if _by_offers(shape, values) else _build_search(shape, values).values_list("pk")
    )
    return ids[: COUNT_CAP + 1]


def matching_ids(filters: Filters, facts: DirectoryFacts | None = None) -> list[int]:
    """The ids of the first COUNT_CAP + 1 listed coaches matching `filters`, in order: what search() finds,
    compiled once per filter shape (core.sqlmemo): a filter set never asked before is a new set of
    values, rarely a new shape."""
    shape, values = _search_terms(filters, facts)
    found = sqlmemo.rows(
        (*shape, COUNT_CAP), lambda given: _build_ids(shape, dict(given)), values, prepare=_preparable(shape, values)
    )
    return [pk for (pk,) in found]


def _preparable(shape: tuple, values: dict[str, Any]) -> bool:
    """Kept prepared on the server (core.sqlmemo): the offers' ids with no condition on the profile. Their plan is
    one index-only scan of (service, language, price, coach) in its own order whatever the values (the generic
    plan is that scan: checked with force_generic_plan), so planning once per connection loses nothing. A
    condition on the profile (rating, flags, words) adds a join whose best plan depends on how selective the
    values are, and the plain join's generic plan is 10x slower (session 7): those are planned every time."""
    return _by_offers(shape, values) and not _coach_conditions(shape, values)


def price_notices(filters: Filters, facts: DirectoryFacts) -> list[str]:
    """What the page says when it compares prices while some listed coaches price in a currency without
    an exchange rate: their offers are not hidden silently."""
    if not filters.compares_prices or not facts.unrated_currencies:
        return []
    codes = ", ".join(facts.unrated_currencies)
    if filters.min_price is not None or filters.max_price is not None:
        return [
            f"Prices in {codes} have no exchange rate yet, so offers in {codes} are left out of the price "
            f"filter. Remove the price filter to see them with their own prices."
        ]
    return [f"Prices in {codes} have no exchange rate yet: those offers are listed after the others."]


# What a card shows (the bio, the user's password hash etc. stay in the database).
CARD_FIELDS = (
    "id",
    "created_at",
    "headline",
    "years_experience",
    "is_available",
    "is_verified",
    "rating_avg",
    "ratings_count",
    "response_time_hours",
    "price_from_minor",
    "price_from_base_minor",
    "user__id",
    "user__email",
    "user__first_name",
    "user__last_name",
    "user__avatar__asset__id",
    "user__avatar__asset__scan_status",
    "user__avatar__asset__deleted_at",
)
CARD_PREFETCHES = (
    Prefetch("services", queryset=CoachService.objects.filter(is_active=True).order_by("price_minor")),
    Prefetch("languages", queryset=Language.objects.order_by("name")),
)


# Cards this process rendered or read, kept in its memory too: the same entries as the shared cache's, each with
# the version it was stamped with and the wall-clock time its shared entry expires (stored with it), so a copy here
# is believed exactly while that entry would be. A miss's cards are mostly ones other pages showed moments ago
# (the cheapest coaches of a service), so they cost no round trip. Bounded: the least recently used go first.
_local_cards: OrderedDict[str, tuple[int, str, float]] = OrderedDict()
LOCAL_CARDS = 1024  # ~2 KB each
_local_cards_lock = threading.Lock()  # sync views run in threads under ASGI


def forget_cards() -> None:
    """Drop this process's copies of cards (tests: an emptied cache restarts the directory version at 0)."""
    with _local_cards_lock:
        _local_cards.clear()


def _cached_cards(keys: list[str], version: int) -> dict[str, str]:
    """The cards among `keys` still current at `version`: this process's copies, then the shared cache's (one
    round trip, none when every card is here); those read are kept here too."""
    now = time.time()
    found: dict[str, str] = {}
    with _local_cards_lock:
        for key in keys:
            local = _local_cards.get(key)
            if local is not None and local[0] == version and now < local[2]:
                found[key] = local[1]
                _local_cards.move_to_end(key)
    remote = [key for key in keys if key not in found]
    if not remote:
        return found
    read: dict[str, tuple[str, float]] = {}
    for key, entry in cache.get_many(remote).items():
        if entry and entry[0] == version and now < entry[1][1]:
            read[key] = entry[1]
    _remember_cards(read, version)
    return found | {key: html for key, (html, _expires) in read.items()}


def _remember_cards(cards: dict[str, tuple[str, float]], version: int) -> None:
    with _local_cards_lock:
        for key, (html, expires) in cards.items():
            _local_cards[key] = (version, html, expires)
            _local_cards.move_to_end(key)
        while len(_local_cards) > LOCAL_CARDS:
            _local_cards.popitem(last=False)


def render_cards(
    coach_ids: list[int],
    service: str,
    version: int | None,
    currency: str = "",
    facts: DirectoryFacts | None = None,
    *,
    stash: dict[str, object] | None = None,
) -> list[dict]:
    """The result cards in `coach_ids` order, each {"coach_id", "html"}; with a `version`, cards
    are reused from the cache. Prices are shown in `currency` (base when empty) beside the coach's own.

    A coach appears on many result pages (other filters, sorts, pages), so a page that is not
    cached itself still finds most of its cards rendered; only the missing coaches are loaded,
    with their services and languages, and rendered. Cards are stamped like the pages (ResultsCache) and
    stored now, or put in `stash` for the caller to store with its page (ResultsCache.pending), each as
    (html, the time it expires) so that this process's copies (_cached_cards) expire with it.
    """
    shown = currency or settings.DEFAULT_CURRENCY
    # v2: the value holds its expiry beside the html
    keys = {pk: f"coaches:card:v2:{pk}:{service or '-'}:{shown}" for pk in coach_ids}
    cached = _cached_cards(list(keys.values()), version) if version is not None else {}
    html = {pk: cached[keys[pk]] for pk in coach_ids if keys[pk] in cached}
    missing = [pk for pk in coach_ids if pk not in html]
    if missing:
        facts = facts or directory_facts()
        coaches = (
            CoachProfile.objects.filter(pk__in=missing)
            .select_related("user__avatar__asset")
            .only(*CARD_FIELDS)
            .prefetch_related(*CARD_PREFETCHES)
        )
        for coach in coaches:
            html[coach.pk] = render_to_string(
                "coaches/partials/coach_card.html",
                {
                    "coach": coach,
                    "price": card_price(coach.services.all(), service, shown, facts),
                    "service_label": "Price" if service else "",
                },
            )
        if version is not None:
            expires = time.time() + settings.COACH_DIRECTORY_CACHE_SECONDS
            rendered = {keys[pk]: (html[pk], expires) for pk in missing if pk in html}
            _remember_cards(rendered, version)
            if stash is None:
                _store(rendered, version)
            else:
                stash.update(rendered)
    # A coach deleted between the two queries is simply left out.
    return [{"coach_id": pk, "html": mark_safe(html[pk])} for pk in coach_ids if pk in html]  # noqa: S308


class CappedPaginator(Paginator):
    """Pages over the first COUNT_CAP matches. Counting every match of a broad search costs a scan
    of every coach; the directory fetches at most COUNT_CAP + 1 ids, in order, and beyond the cap
    the page says “500+” and asks for a filter."""

    def __init__(self, matching_ids: list[int], per_page: int):
        self.capped = len(matching_ids) > COUNT_CAP
        super().__init__(matching_ids[:COUNT_CAP], per_page)


@dataclass(frozen=True)
class CardPrice:
    own: str  # the coach's price in their currency, always shown
    converted: str = ""  # in the viewer's currency, when it differs and has a rate
    unrated: str = ""  # the coach's currency when it has no exchange rate (nothing to convert with)

    def __bool__(self) -> bool:
        return bool(self.own)


def card_price(
    offered: Iterable[CoachService], service: str = "", currency: str = "", facts: DirectoryFacts | None = None
) -> CardPrice:
    """“≈ €93.60, coach's price £80.00” on a card: of a coach's active services `offered`, the chosen service,
    else the cheapest by base price (one without a rate only when none has one), in the viewer's `currency`
    beside the coach's own price."""
    services = [s for s in offered if not service or s.service_type == service]
    if not services:
        return CardPrice("")
    shown = currency or settings.DEFAULT_CURRENCY
    cheapest = min(services, key=lambda s: (s.price_base_minor is None, s.price_base_minor or 0, s.price_minor, s.pk))
    own = format_money(cheapest.price_minor, cheapest.currency)
    if cheapest.currency == shown:
        return CardPrice(own)
    if cheapest.price_base_minor is None:
        return CardPrice(own, unrated=cheapest.currency)
    facts = facts or directory_facts()
    rate = facts.rate(shown)
    if rate is None:  # the viewer's currency lost its rate since the filters were read
        return CardPrice(own)
    converted = pricing.from_base_minor(cheapest.price_base_minor, shown, rate, facts.base)
    return CardPrice(own, converted=format_money(converted, shown))
