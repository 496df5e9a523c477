"""A TCP forwarder a test can cut and restore: a real outage between the app and a real service."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.test import override_settings

from conftest import require_service


class TcpProxy:
    """Listens on a free loopback port and forwards every connection to `target`. `cut()` closes the listener and
    every open connection (the app sees resets and refusals, as when the service's host goes away); `restore()`
    listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.target)
            with self._lock:
                if self._listener is not listener:
                    downstream.close()
                    upstream.close()
                    return
                self._open.update((downstream, upstream))
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def redis_outage(monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """The default cache (core.cache.RedisCache) on the real Redis, reached through a TcpProxy the caller cuts and
    restores. The cache tries Redis again on every call (no pause after a failure), so the first call after
    restore() reaches it. Its own key prefix, emptied at the end."""
    from core.cache import RedisCache

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    redis = urlparse(settings.REDIS_URL)
    proxy = TcpProxy((redis.hostname or "127.0.0.1", redis.port or 6379))
    monkeypatch.setattr(RedisCache, "RETRY_AFTER_SECONDS", 0.0)
    prefix = f"{settings.CACHE_KEY_PREFIX}-outage"
    location = f"redis://127.0.0.1:{proxy.port}{redis.path or '/0'}"
    try:
        with override_settings(
            CACHES={"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": location, "KEY_PREFIX": prefix}}
        ):
            from django.core.cache import cache

            try:
                yield proxy
            finally:
                proxy.restore()
                client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
                keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
                if keys:
                    client.delete(*keys)
    finally:
        proxy.cut()
