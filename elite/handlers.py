"""The WSGI application: one Django handler per middleware chain, chosen by the request's path.

Payment providers' webhook deliveries (`/payments/webhooks/…`) are machine-to-machine POSTs to
csrf_exempt views: no session, no user, no messages, no HTML. They go to a second WSGIHandler whose
middleware is settings.WEBHOOK_MIDDLEWARE, a subsequence of settings.MIDDLEWARE (checked here at
start-up, so the two lists cannot drift apart silently). Every other path gets the full chain.
See docs/notes/issue-13-performance.md (session 9, wh11) for what the shorter chain saves.
"""

from __future__ import annotations

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string


class MiddlewareListWSGIHandler(WSGIHandler):
    """A WSGIHandler whose middleware is the list it is given, not settings.MIDDLEWARE.

    Django's BaseHandler.load_middleware reads settings.MIDDLEWARE and takes no list. This is its
    synchronous path (a WSGI handler always loads with is_async=False) over `middleware` instead,
    step for step: MiddlewareNotUsed skipped, a None factory refused, process_view /
    process_template_response / process_exception collected in the same order, every layer wrapped
    by convert_exception_to_response. elite/tests/test_wsgi_dispatch.py builds it over
    settings.MIDDLEWARE and compares it with Django's own handler.
    """

    def __init__(self, middleware, *args, **kwargs):
        self.middleware = tuple(middleware)
        super().__init__(*args, **kwargs)

    def load_middleware(self, is_async=False):
        if is_async:
            raise ImproperlyConfigured("MiddlewareListWSGIHandler is a WSGI (synchronous) handler.")
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []

        handler = convert_exception_to_response(self._get_response)
        handler_is_async = False
        for middleware_path in reversed(self.middleware):
            middleware = import_string(middleware_path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"Middleware {middleware_path} cannot run synchronously (WSGI).")
            try:
                adapted_handler = self.adapt_method_mode(
                    False, handler, handler_is_async, debug=settings.DEBUG, name=f"middleware {middleware_path}"
                )
                mw_instance = middleware(adapted_handler)
            except MiddlewareNotUsed:
                continue
            handler = adapted_handler
            if mw_instance is None:
                raise ImproperlyConfigured(f"Middleware factory {middleware_path} returned None.")
            if hasattr(mw_instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(False, mw_instance.process_view))
            if hasattr(mw_instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(False, mw_instance.process_template_response)
                )
            if hasattr(mw_instance, "process_exception"):
                self._exception_middleware.append(self.adapt_method_mode(False, mw_instance.process_exception))
            handler = convert_exception_to_response(mw_instance)
            handler_is_async = False
        self._middleware_chain = self.adapt_method_mode(False, handler, handler_is_async)


def check_subsequence(subset, full) -> None:
    """Every entry of `subset` is in `full`, in the same order (ImproperlyConfigured otherwise)."""
    position = 0
    for name in subset:
        try:
            position = full.index(name, position) + 1
        except ValueError:
            raise ImproperlyConfigured(
                f"WEBHOOK_MIDDLEWARE has {name!r}, which is not in MIDDLEWARE after the entries before it: "
                "it must be MIDDLEWARE with entries left out, in MIDDLEWARE's order."
            ) from None


class PathDispatcher:
    """Send the requests whose PATH_INFO starts with one of `prefixes` to `lean`, the rest to `full`."""

    def __init__(self, full, lean, prefixes):
        self.full = full
        self.lean = lean
        self.prefixes = tuple(prefixes)

    def __call__(self, environ, start_response):
        handler = self.lean if environ.get("PATH_INFO", "").startswith(self.prefixes) else self.full
        return handler(environ, start_response)


def get_wsgi_application():
    """What django.core.wsgi.get_wsgi_application does, with the webhook paths on their own chain."""
    django.setup(set_prefix=False)
    full = WSGIHandler()
    prefixes = tuple(settings.WEBHOOK_PATH_PREFIXES)
    if not prefixes:
        return full
    check_subsequence(settings.WEBHOOK_MIDDLEWARE, list(settings.MIDDLEWARE))
    return PathDispatcher(full, MiddlewareListWSGIHandler(settings.WEBHOOK_MIDDLEWARE), prefixes)
