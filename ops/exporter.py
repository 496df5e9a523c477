"""/metrics: who may read it, and one registry that adds up every process of this process type.

The public site answers 404 (nginx too). A scraper is let in by a bearer token (METRICS_TOKEN) or by
its address (METRICS_ALLOWED_IPS, networks; the address is `core.http.client_ip`'s, so behind nginx a
visitor cannot pose as the loopback). With PROMETHEUS_MULTIPROC_DIR set, the values of all gunicorn,
uvicorn or Celery child processes are read from their files there and added up.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import connections
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST, ThreadingWSGIServer, _SilentHandler
from prometheus_client.registry import Collector


def scraper_allowed(address: str | None, authorization: str) -> bool:
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_IPS)


class _ThisProcess(Collector):
    """The default registry (one process: `make run`, tests) without registering into it."""

    def collect(self):
        yield from REGISTRY.collect()


def render(extra: Iterable[Collector] = ()) -> bytes:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def state_collectors() -> list[Collector]:
    from .collectors import BeatCollector, CeleryQueueCollector, ScanQueueCollector

    return [CeleryQueueCollector(), ScanQueueCollector(), BeatCollector()]


# --- A separate port, for the processes that serve no pages (the Celery worker) -------------------


def _wsgi_app(environ, start_response):
    if not scraper_allowed(environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION", "")):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found\n"]
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found\n"]
    try:
        body = render()
    finally:
        connections.close_all()
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [body]


def serve_in_thread(address: str, port: int) -> ThreadingWSGIServer:
    """Serve /metrics on (address, port) from a daemon thread; returns the server (for shutdown)."""
    from wsgiref.simple_server import make_server

    server = make_server(address, port, _wsgi_app, ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    return server
