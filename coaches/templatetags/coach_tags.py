"""Small pieces every coach card and page repeats: star ratings and avatar initials."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from files.services import avatar_of

register = template.Library()

_FULL = '<i class="bi bi-star-fill" aria-hidden="true"></i>'
_HALF = '<i class="bi bi-star-half" aria-hidden="true"></i>'
_EMPTY = '<i class="bi bi-star" aria-hidden="true"></i>'


_STARS_MEMO: dict[str, str] = {}
_STARS_MEMO_SIZE = 1024  # an average keeps two places: 501 values from 0.00 to 5.00, and the ratings 1–5


@register.simple_tag
def stars(value) -> str:
    """Five star icons for a 0–5 rating rounded to the nearest half, with a text for screen readers.

    The markup depends only on the rating's text, and a coach page shows it once per review: each is
    built once per process."""
    text = str(value or 0)
    html = _STARS_MEMO.get(text)
    if html is None:
        rating = Decimal(text)
        halves = int((rating * 2).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        full, half = divmod(halves, 2)
        icons = _FULL * full + _HALF * half + _EMPTY * (5 - full - half)
        html = format_html(
            '<span class="rating-stars">{}</span><span class="visually-hidden">Rated {} out of 5</span>',
            mark_safe(icons),  # noqa: S308 - constant markup built above, no user input
            f"{rating:.1f}",
        )
        if len(_STARS_MEMO) >= _STARS_MEMO_SIZE:
            _STARS_MEMO.clear()
        _STARS_MEMO[text] = html
    return html


@register.filter
def initials(user) -> str:
    """“GC” for Grace Coach; the first letter of the email for a user without names."""
    letters = "".join(part[:1] for part in (user.first_name, user.last_name) if part).upper()
    return letters or user.email[:1].upper()


@register.filter
def avatar_tone(user) -> str:
    """A stable background colour class for an avatar, so cards are told apart at a glance."""
    return f"avatar-tone-{user.pk % 6}"


@register.filter
def response_time(hours) -> str:
    """“within 3 hours” / “within 2 days” from the measured average response time."""
    if hours is None:
        return ""
    if hours < 1:
        return "within an hour"
    if hours < 24:
        rounded = round(hours)
        return f"within {rounded} hour{'s' if rounded != 1 else ''}"
    days = round(hours / 24)
    return f"within {days} day{'s' if days != 1 else ''}"


_OPTIONS_MEMO: dict[tuple, str] = {}
_OPTIONS_MEMO_SIZE = 512


@register.simple_tag
def select_options(choices, selected) -> str:
    """The <option>s of a filter <select>, `selected` marked: a template loop with an {% if %} per
    option costs more than the rest of a directory page (30 languages, 4 sorts, …).

    The markup depends only on the choices and the selected value, and a directory page made for a
    filter set not asked before still has the same few selects: each is joined once per process."""
    selected = "" if selected is None else str(selected)
    key = (tuple((str(value), str(label)) for value, label in choices), selected)  # lazy labels: as translated now
    html = _OPTIONS_MEMO.get(key)
    if html is None:
        html = "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>{escape(label)}</option>'
            for value, label in key[0]
        )
        if len(_OPTIONS_MEMO) >= _OPTIONS_MEMO_SIZE:
            _OPTIONS_MEMO.clear()
        _OPTIONS_MEMO[key] = html
    return mark_safe(html)  # noqa: S308 - every value and label is escaped above


@register.simple_tag
def coach_avatar(user, large: bool = False) -> str:
    """The coach's profile photo once its scan is clean, else coloured initials.

    The URL carries the photo's id, so a new photo is fetched at once despite browser caching.
    """
    size = "avatar-lg" if large else ""
    photo = avatar_of(user)
    if photo is not None and photo.is_downloadable:
        pixels = 80 if large else 52
        return format_html(
            '<img class="avatar {} avatar-img" src="{}?v={}" alt="" width="{}" height="{}" loading="lazy">',
            size,
            reverse("files:avatar", args=[user.pk]),
            photo.pk,
            pixels,
            pixels,
        )
    return format_html(
        '<span class="avatar {} {}" aria-hidden="true">{}</span>', size, avatar_tone(user), initials(user)
    )


# Rows a page repeats are joined here: a template loop costs ~25 calls per {{ }} and per iteration.
_CARD_ITEM = '\n          <li class="col-md-6 col-xl-4">{}</li>\n        '
_DISTRIBUTION_ROW = (
    '\n              <li class="d-flex align-items-center gap-2">\n'
    '                <span class="dist-label">{} <i class="bi bi-star-fill rating-stars" aria-hidden="true"></i>'
    '<span class="visually-hidden"> {}</span></span>\n'
    '                <span class="dist-bar flex-grow-1" aria-hidden="true"><span class="dist-fill pct-{}"></span></span>\n'
    '                <span class="dist-count">{}</span>\n'
    "              </li>\n            "
)


@register.simple_tag
def card_items(cards) -> str:
    """The directory's result cards (rendered and escaped by coach_card.html), one list item each."""
    return format_html_join("", _CARD_ITEM, ((card["html"],) for card in cards))


@register.simple_tag
def rating_distribution(distribution) -> str:
    """One row per star rating, 5 to 1: its count and the share of the bar (coaches.views). Only
    integers and fixed words go in, so nothing needs escaping."""
    return mark_safe(  # noqa: S308 - integers and constant words only
        "".join(
            _DISTRIBUTION_ROW.format(
                int(row["stars"]), "star" if row["stars"] == 1 else "stars", int(row["percent"]), int(row["count"])
            )
            for row in distribution
        )
    )
