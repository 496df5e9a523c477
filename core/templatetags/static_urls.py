"""`{% load static_urls %}`: Django's `static` library with `{% static %}` answering from a per-process memo of the
storage's url(). Our templates load it instead of `static` (core/tests/test_static_tag.py checks that every one
does); the admin's and allauth's keep Django's. (Mapping the name `static` to it in settings.TEMPLATES would reach
those too, but Django's check templates.W003 refuses one library name for two modules.)

Every page renders 8–10 static URLs in base.html; each was the storage's url() (a urljoin and a quote, or the
manifest's lookup), ~10 µs, 0.1 ms of every page (issue 13). The URL of a path depends only on the storage, the
settings it reads and the script prefix, so the memo is keyed by the path and the prefix and emptied when a test
changes those settings. Only paths that are strings are remembered; a failed lookup (a path missing from the manifest)
raises as before and is not remembered. The library's other tags are Django's own.
"""

from functools import lru_cache

from django import template
from django.core.signals import setting_changed
from django.templatetags import static as django_static
from django.urls import get_script_prefix

register = template.Library()
register.tags.update(django_static.register.tags)
register.filters.update(django_static.register.filters)
MEMO_SIZE = 1024
_SETTINGS = {"STATIC_URL", "STATIC_ROOT", "STORAGES", "DEBUG", "INSTALLED_APPS", "FORCE_SCRIPT_NAME"}


@lru_cache(maxsize=MEMO_SIZE)
def _url(path: str, prefix: str) -> str:
    """prefix is part of the key only: a relative STATIC_URL gets it from the thread itself."""
    return django_static.StaticNode.handle_simple(path)


def _forget(*, setting, **kwargs) -> None:
    if setting in _SETTINGS:
        _url.cache_clear()


setting_changed.connect(_forget, dispatch_uid="core.templatetags.static_urls.forget")


class RememberedStaticNode(django_static.StaticNode):
    def url(self, context):
        path = self.path.resolve(context)
        if not isinstance(path, str):  # a lazy string, or no string at all: as Django does, every time
            return self.handle_simple(path)
        # A literal path arrives as a SafeString; its URL is the plain string's (storages quote and join text).
        return _url(str(path), get_script_prefix())


@register.tag("static")
def do_static(parser, token):
    """Django's {% static %} (same syntax and errors), remembered per process."""
    return RememberedStaticNode.handle_token(parser, token)
