"""`{% url %}` answering from a per-process memo of reverse(): a builtin (settings.TEMPLATES), so
every template's `{% url %}` is this one.

A logged-in page reversed 30–80 URLs per request (navbar, footer, a link per row), each a walk of the
resolver's patterns: 8–18 % of the page's time (issue 13). A URL depends only on the view name, its
arguments, the current app, the URLconf, the script prefix and the language, so those are the key.
Arguments other than str and int (and their subclasses: a SafeString, a TextChoices member; a model
instance's str() may change) go to reverse() every time.
The memo holds at most MEMO_SIZE URLs, and is emptied when a test swaps the URLconf.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()
MEMO_SIZE = 4096
_PLAIN = (int, str)


@lru_cache(maxsize=MEMO_SIZE)
def _reverse(view_name, args, kwargs, current_app, urlconf, prefix, language) -> str:
    """prefix and language are part of the key only: reverse() reads them from the thread itself."""
    return reverse(view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app)


def _forget(*, setting, **kwargs) -> None:
    if setting == "ROOT_URLCONF":
        _reverse.cache_clear()


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


@register.tag
def url(parser, token):
    """Django's {% url %} (same syntax and errors), remembered per process."""
    node = defaulttags.url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
