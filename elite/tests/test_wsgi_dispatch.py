"""elite/handlers.py: webhook deliveries take WEBHOOK_MIDDLEWARE, every other path the full MIDDLEWARE."""

import re

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler
from django.urls import URLPattern, URLResolver, get_resolver

from core import metrics
from elite.handlers import MiddlewareListWSGIHandler, PathDispatcher, check_subsequence, get_wsgi_application

from .wsgi_client import WsgiClient

KEPT = [
    "ops.middleware.MetricsMiddleware",
    "elite.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "elite.middleware.RequestBodyLimitMiddleware",
    "elite.middleware.DomainErrorMiddleware",
]


def test_the_webhook_chain_is_middleware_with_the_page_only_entries_left_out():
    assert settings.WEBHOOK_MIDDLEWARE == KEPT
    check_subsequence(settings.WEBHOOK_MIDDLEWARE, settings.MIDDLEWARE)  # what get_wsgi_application checks


@pytest.mark.parametrize(
    "subset",
    [
        ["elite.middleware.RequestIdMiddleware", "ops.middleware.MetricsMiddleware"],  # out of order
        ["ops.middleware.MetricsMiddleware", "elite.middleware.NotThere"],  # not in MIDDLEWARE
        ["ops.middleware.MetricsMiddleware", "ops.middleware.MetricsMiddleware"],  # twice
    ],
)
def test_a_webhook_chain_that_is_not_a_subsequence_of_middleware_is_refused(subset):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_MIDDLEWARE"):
        check_subsequence(subset, settings.MIDDLEWARE)


def test_the_application_refuses_to_start_on_a_drifted_webhook_chain(settings):
    settings.WEBHOOK_MIDDLEWARE = [*KEPT, "csp.middleware.CSPMiddleware"]  # after DomainError: not MIDDLEWARE's order
    with pytest.raises(ImproperlyConfigured):
        get_wsgi_application()


def test_no_prefixes_means_one_handler(settings):
    settings.WEBHOOK_PATH_PREFIXES = []
    assert type(get_wsgi_application()) is WSGIHandler


def test_the_entry_point_dispatches_the_webhook_prefix_to_the_short_chain():
    from elite.wsgi import application

    assert isinstance(application, PathDispatcher)
    assert application.prefixes == ("/payments/webhooks/",)
    assert type(application.full) is WSGIHandler
    assert application.lean.middleware == tuple(settings.WEBHOOK_MIDDLEWARE)


def _hooks(handler):
    def names(methods):
        return [(getattr(m, "__module__", ""), getattr(m, "__qualname__", repr(m))) for m in methods]

    chain, layers = handler._middleware_chain, []
    while chain is not None:  # convert_exception_to_response wraps each instance: walk the get_response links
        instance = getattr(chain, "__wrapped__", chain)
        layers.append(type(instance).__qualname__)
        chain = getattr(instance, "get_response", None)
    return (
        names(handler._view_middleware),
        names(handler._template_response_middleware),
        names(handler._exception_middleware),
        layers,
    )


def test_the_list_handler_over_middleware_builds_what_django_builds():
    """The loader is Django's load_middleware over a given list: over MIDDLEWARE, the same chain and hooks."""
    ours, django_s = MiddlewareListWSGIHandler(settings.MIDDLEWARE), WSGIHandler()
    assert _hooks(ours) == _hooks(django_s)
    assert len(_hooks(ours)[3]) > 10  # the walk saw the whole chain


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route.lstrip("^").rstrip("$"), entry.callback


def test_every_view_under_a_webhook_prefix_is_csrf_exempt():
    """The short chain has no CSRF, session or user: only csrf_exempt POST endpoints may live under it."""
    under = [
        (route, view) for route, view in _walk(get_resolver().url_patterns) if route.startswith("/payments/webhooks/")
    ]
    assert sorted(route for route, _ in under) == [
        "/payments/webhooks/paypal/",
        "/payments/webhooks/stripe/",
        "/payments/webhooks/test/",
    ]
    assert all(getattr(view, "csrf_exempt", False) for _, view in under)


def _count(view, status):
    return metrics.HTTP_REQUESTS.labels(view, "POST", status)._value.get()


@pytest.mark.django_db
def test_a_webhook_post_keeps_metrics_request_id_security_headers_and_the_signature_check(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_wsgi_dispatch"
    before = _count("payments:webhook_stripe", "4xx")

    response = WsgiClient().post(
        "/payments/webhooks/stripe/",
        b'{"id": "evt_1", "type": "checkout.session.completed"}',
        "application/json",
        headers={"Stripe-Signature": "t=1,v1=0000", "X-Request-ID": "req-wsgi-1"},
    )

    assert response.status_code == 400 and "error" in response.json()  # the signature is still checked
    assert response.headers["x-request-id"] == "req-wsgi-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert _count("payments:webhook_stripe", "4xx") == before + 1
    # The short chain was taken: nothing of the page-only middleware.
    assert "set-cookie" not in response.headers
    assert "x-frame-options" not in response.headers
    assert "content-security-policy" not in response.headers
    assert "vary" not in response.headers  # SessionMiddleware would add Vary: Cookie


@pytest.mark.django_db
def test_a_webhook_post_without_the_trailing_slash_is_still_redirected(settings):
    """CommonMiddleware is kept: APPEND_SLASH answers as it did (providers are configured with the slash)."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_wsgi_dispatch"
    response = WsgiClient().get("/payments/webhooks/stripe")
    assert response.status_code == 301 and response.headers["location"] == "/payments/webhooks/stripe/"


@pytest.mark.django_db
def test_a_too_large_webhook_is_refused_before_its_body_is_read():
    response = WsgiClient().post(
        "/payments/webhooks/paypal/",
        b"{}",
        "application/json",
        headers={"Accept": "application/json"},
        CONTENT_LENGTH=str(settings.MAX_REQUEST_BODY_BYTES + 1),
    )
    assert response.status_code == 413 and "too large" in response.json()["error"]
    assert "x-request-id" in response.headers


@pytest.mark.django_db
def test_pages_keep_the_full_chain(client_user, password):
    client = WsgiClient()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in page.headers
    token = page.cookies["csrftoken"].value
    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()

    refused = client.post(
        "/accounts/login/",
        f"login={client_user.email}&password={password}",
        "application/x-www-form-urlencoded",
        headers={"Cookie": f"csrftoken={token}"},
    )
    assert refused.status_code == 403  # CSRF is enforced on a normal POST
    assert "sessionid" not in refused.cookies

    signed_in = client.post(
        "/accounts/login/",
        f"login={client_user.email}&password={password}&csrfmiddlewaretoken={form_token}",
        "application/x-www-form-urlencoded",
        headers={"Cookie": f"csrftoken={token}"},
    )
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"].value  # the session middleware ran
