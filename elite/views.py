"""Project-level pages: landing, the role dashboards, health and readiness probes, error pages."""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from core.api import problem_response
from core.http import client_ip
from core.pages import cached_page
from requests_app.pages import OPEN_REQUESTS

from .landing import landing_figures

logger = logging.getLogger(__name__)


def landing(request):
    """The public face: every figure on it (prices, coaches, ratings, testimonials) comes from real data."""
    return render(request, "pages/landing.html", landing_figures())


def _dashboard_topics(request) -> tuple[str, ...]:
    """A coach's dashboard lists the open requests their services match: every coach's changes with one."""
    return (OPEN_REQUESTS,) if getattr(request.user, "is_coach", False) else ()


@login_required
@cached_page(topics=_dashboard_topics)
def dashboard(request):
    from elite.dashboards import dashboard_context

    template, context = dashboard_context(request.user)
    return render(request, template, context)


def health(request):
    """Liveness: the process answers. Touches nothing else, so a database outage does not restart web workers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    if hasattr(cache, "ping"):  # core.cache.RedisCache: ask Redis, not its in-process fallback
        cache.ping()
        return
    cache.set("ready-probe", "1", 5)
    if cache.get("ready-probe") != "1":
        raise RuntimeError("cache did not return what was written")


def _check_channel_layer() -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # A group with no members: a round trip to the layer's backend that leaves nothing behind.
    async_to_sync(layer.group_send)("ready-probe", {"type": "probe"})


def _check_broker() -> None:
    from elite.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readiness_checks() -> dict:
    """The backing services this deployment is configured with (for /ready and `elite_ready`)."""
    checks = {"database": _check_database, "cache": _check_cache, "channel_layer": _check_channel_layer}
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = _check_broker
    return checks


@never_cache
def ready(request):
    """Readiness: every backing service this deployment is configured with answers."""
    results, healthy = {}, True
    for name, check in readiness_checks().items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a probe reports every failure, whatever it is
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = "error"
            healthy = False
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results}, status=200 if healthy else 503
    )


@never_cache
def metrics(request):
    """Prometheus' scrape of this process type; anyone else gets the site's 404 (ops.exporter)."""
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    from ops import exporter
    from ops.collectors import ReadyCollector

    if not exporter.scraper_allowed(client_ip(request), request.headers.get("Authorization", "")):
        raise Http404
    body = exporter.render([ReadyCollector(readiness_checks), *exporter.state_collectors()])
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _api_problem(request, status: int, code: str, detail: str):
    """URLs under /api/ that never reach a DRF view (a malformed id in the path) answer in the API's shape."""
    if request.path.startswith("/api/"):
        return problem_response(status, code, detail)
    return None


def error_403(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have access to this page."
    if api := _api_problem(request, 403, "permission_denied", message):
        return api
    return render(request, "403.html", {"message": message}, status=403)


def error_404(request, exception=None):
    if api := _api_problem(request, 404, "not_found", "Not found."):
        return api
    return render(request, "404.html", status=404)


def error_500(request):
    if api := _api_problem(request, 500, "server_error", "Something went wrong on our side."):
        return api
    return render(request, "500.html", status=500)
