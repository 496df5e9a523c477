"""`{% url %}` answering from a per-process memo of reverse(): a builtin (settings.TEMPLATES), so
every template's `{% url %}` is this one.

A logged-in page reversed 30–80 URLs per request (navbar, footer, a link per row), each a walk of the
resolver's patterns: 8–18 % of the page's time (issue 13). A URL depends only on the view name, its
arguments, the current app, the URLconf, the script prefix and the language, so those are the key.
Arguments other than str and int (and their subclasses: a SafeString, a TextChoices member; a model
instance's str() may change) go to reverse() every time.
The memo holds at most MEMO_SIZE URLs, and is emptied when a test swaps the URLconf.

A URL with ids never seen before (a cold order page links its coach, request, thread and each move) would
each be a memo miss and a walk of the patterns: for positive int arguments, the URL is made from a form per
route instead (`_int_form`), the text around the ids, found once per process by reversing with sentinels.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()
MEMO_SIZE = 4096
_PLAIN = (int, str)
# The int arguments' stand-ins: a 19-digit one found in the URL, a 1-digit one that checks the form. A route
# that takes both at each place takes every id between (a length limit or a regex cuts off one of them).
_LONG, _SHORT = 9_876_543_210_987_654_300, 2
_MAX_ID = 10**19 - 1


@lru_cache(maxsize=MEMO_SIZE)
def _reverse(view_name, args, kwargs, current_app, urlconf, prefix, language) -> str:
    """prefix and language are part of the key only: reverse() reads them from the thread itself."""
    return reverse(view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app)


@lru_cache(maxsize=MEMO_SIZE)
def _int_form(
    view_name, args, kwargs, current_app, urlconf, prefix, language
) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """The escaped text around the int arguments (None in `args`, then in `kwargs`: an int's place) of the
    URL, and which argument each place prints (a route may print its kwargs in another order than given); or
    None when the route does not print each int as it is, once, where reverse() would: then each URL is
    reversed (and remembered) by itself."""
    places = [*(i for i, v in enumerate(args) if v is None), *(k for k, v in kwargs if v is None)]

    def reversed_with(stand_ins: list[int]) -> str:
        given = dict(zip(places, stand_ins, strict=True))
        return reverse(
            view_name,
            urlconf=urlconf,
            args=[given.get(i, v) for i, v in enumerate(args)],
            kwargs={k: given.get(k, v) for k, v in kwargs},
            current_app=current_app,
        )

    longs = [str(_LONG + n) for n in range(len(places))]
    shorts = [str(_SHORT + n) for n in range(len(places))]
    try:
        url = reversed_with([int(n) for n in longs])
        check = reversed_with([int(n) for n in shorts])
    except (NoReverseMatch, ValueError):  # ValueError: args and kwargs mixed, which reverse() refuses
        return None
    if any(url.count(text) != 1 for text in longs):
        return None
    parts, at = [], 0
    printed = sorted((url.index(text), n) for n, text in enumerate(longs))
    for index, n in printed:
        if index < at:
            return None
        parts.append(url[at:index])
        at = index + len(longs[n])
    parts.append(url[at:])
    order = tuple(n for _index, n in printed)
    if _joined(parts, [shorts[n] for n in order]) != check:
        return None
    return tuple(escape(part) for part in parts), order


def _joined(parts, ids) -> str:
    out = [parts[0]]
    for id_text, part in zip(ids, parts[1:], strict=True):
        out += (id_text, part)
    return "".join(out)


def _forget(*, setting, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _reverse.cache_clear()
        _int_form.cache_clear()


setting_changed.connect(_forget, dispatch_uid="core.templatetags.urls.forget")


class RememberedURLNode(defaulttags.URLNode):
    def render(self, context):
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((k, v.resolve(context)) for k, v in self.kwargs.items())
        view_name = self.view_name.resolve(context)
        plain = isinstance(view_name, str) and all(isinstance(v, _PLAIN) for v in args)
        plain = plain and all(isinstance(v, _PLAIN) for _k, v in kwargs)
        if not plain:
            return super().render(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        urlconf = get_urlconf() or settings.ROOT_URLCONF
        if any(map(_is_id, args)) or any(_is_id(v) for _k, v in kwargs):
            url = self._from_form(view_name, args, kwargs, current_app, urlconf, context)
            if url is not None:
                return url
        url = ""
        try:
            url = _reverse(view_name, args, kwargs, current_app, urlconf, get_script_prefix(), get_language())
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url

    def _from_form(self, view_name, args, kwargs, current_app, urlconf, context) -> SafeString | None:
        """The URL printed from its route's form (`_int_form`), or None: reverse it (an `as` variable, an
        autoescape-off block or a route the form does not fit)."""
        if not context.autoescape or self.asvar:
            return None
        form = _int_form(
            view_name,
            tuple(None if _is_id(v) else v for v in args),
            tuple((k, None if _is_id(v) else v) for k, v in kwargs),
            current_app,
            urlconf,
            get_script_prefix(),
            get_language(),
        )
        if form is None:
            return None
        parts, order = form
        ids = [str(v) for v in args if _is_id(v)] + [str(v) for _k, v in kwargs if _is_id(v)]
        return SafeString(_joined(parts, [ids[n] for n in order]))


def _is_id(value) -> bool:
    """A positive int as a primary key is (not a bool, not an IntegerChoices member: their str() differs)."""
    return type(value) is int and 0 < value <= _MAX_ID


@register.tag
def url(parser, token):
    """Django's {% url %} (same syntax and errors), remembered per process."""
    node = defaulttags.url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
