import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

from conftest import port_open, require_service
from messaging.models import MessageThread
from ops.tests.suite_logs import watch_process_log


@pytest.fixture
def thread(order):
    """The order's thread, opened by the order_created signal."""
    return MessageThread.objects.get(order=order)


@pytest.fixture
def login_cookie():
    """A real session for `user` (as the login view would make), returned as a Cookie header value."""

    def make(user) -> str:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    return make


@pytest.fixture
def media_root(local_media):
    """Uploads to a folder of this test, scanned by the no-op scanner (the root conftest's local_media)."""
    return local_media


@pytest.fixture
def pdf_upload():
    from files.tests.samples import pdf_bytes, upload

    def make(name="draft.pdf", text="Draft CV"):
        return upload(pdf_bytes(text), name=name)

    return make


# --- Real ASGI servers (uvicorn subprocesses) sharing the test database ------------------------

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_of_test_db() -> str:
    """The URL of the database this test runs against, for subprocesses to share it."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "") + "@" if s.get("USER") else ""
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def require_postgres_and_redis():
    from django.conf import settings
    from django.db import connection

    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "the ASGI server processes must share the test database: run with DATABASE_URL=postgres://…",
    )
    require_service("Redis", bool(settings.REDIS_URL) and port_open("127.0.0.1", 6379), "set REDIS_URL")


@pytest.fixture
def asgi_servers(tmp_path):
    """Start uvicorn processes serving elite.asgi against the test database and Redis.

    The test must be transactional (its rows committed) so the servers can see them.
    """
    from django.conf import settings

    require_postgres_and_redis()
    # Shared with this test process (whose channel layer then reaches the servers' consumers), but
    # not with other test runs on the same Redis: each run has its own CACHE_KEY_PREFIX.
    prefix = settings.CACHE_KEY_PREFIX
    processes = []

    def start(*, workers: int = 1, extra_env: dict | None = None, port: int | None = None) -> str:
        port = port or free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_test_db(),
            "REDIS_URL": settings.REDIS_URL,
            "CACHE_KEY_PREFIX": prefix,
            "DEBUG": "true",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CLAMD_URL": settings.CLAMD_URL,
            "LOG_LEVEL": "WARNING",
            "CONN_MAX_AGE": "0",
            **(extra_env or {}),
        }
        log = open(tmp_path / f"uvicorn-{port}.log", "wb")  # noqa: SIM115 - closed at teardown
        watch_process_log(tmp_path / f"uvicorn-{port}.log")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "elite.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "3",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole below
        )
        processes.append((process, log, port))
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"uvicorn did not start:\n{(tmp_path / f'uvicorn-{port}.log').read_text()[-3000:]}")
            time.sleep(0.1)
        return f"127.0.0.1:{port}"

    def stop_process(process) -> None:
        # The whole process group, so no worker outlives its server and keeps the port.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(address: str) -> None:
        """Stop the server at address (e.g. to drop every connection), keeping its log."""
        for process, _log, port in processes:
            if address.endswith(f":{port}") and process.poll() is None:
                stop_process(process)

    start.stop = stop
    yield start
    for process, log, port in processes:
        stop_process(process)
        log.close()
        # Shown by pytest only when the test failed.
        print(f"--- uvicorn :{port} log ---\n" + (tmp_path / f"uvicorn-{port}.log").read_text()[-4000:])
