"""Who is calling and which request this is: the one client-IP rule and the request id.

Rate limits (ours and allauth's) and the audit log all take the caller's address from `client_ip`, so
a forged X-Forwarded-For cannot pick the address one of them records while another counts a different one.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address, trusting exactly TRUSTED_PROXY_COUNT proxies in front of us.

    Each trusted proxy appends the address it saw to X-Forwarded-For, so the client is the Nth hop from
    the right; anything to the left of it was written by the client and proves nothing. With no trusted
    proxy (`make run`) or fewer hops than proxies (the request bypassed them), REMOTE_ADDR is the answer.
    """
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def current_request_id() -> str:
    """The id of the request (or the task it started) being served by this thread or coroutine, or "-"."""
    return _request_id.get()


def bind_request_id(request_id: str) -> contextvars.Token[str]:
    return _request_id.set(request_id)


def unbind_request_id(token: contextvars.Token[str]) -> None:
    _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Puts `request_id` on every log record, so one request's lines can be found together."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id == "-":
            # django.request logs the response after the middleware has returned; it passes the request.
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


NOTHING_SENT = (
    "Nothing was changed: that step is done with its button on this page. "
    "If you were asked to log in on the way, please do it again here."
)


def post_only(back_to: str, *, pk: str = "pk") -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Like require_POST, but a GET or HEAD of the action's URL is sent to the page its button is on (`back_to`,
    reversed with the URL's `pk` argument) with a note, instead of a bare 405. Such GETs come from people: a
    login's `next` after the session ended while a form was open (the POST itself cannot be replayed), a
    bookmarked or typed URL. Nothing is changed; a page the visitor may not see answers its own 404."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                return view(request, *args, **kwargs)
            if request.method in ("GET", "HEAD"):
                messages.info(request, NOTHING_SENT)
                return redirect(back_to, pk=kwargs[pk])
            return HttpResponseNotAllowed(["POST"])

        return wrapped

    return decorator


def same_site_referer(request: HttpRequest, default: str = "/") -> str:
    """The page the visitor came from, for an error page's "Go back", if it is on this site; else `default`."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return default
