"""Shared fixtures: the standard users of every access test, real-service helpers, the browser."""

import os
import socket

import pytest
from celery import current_app
from django.core.cache import cache

from elite.celery import app as celery_app

IN_CI = os.environ.get("CI", "").lower() == "true"
# Every log line of the run is checked for personal data and secrets (ops/tests/suite_logs.py).
pytest_plugins = ["ops.tests.suite_logs"]
# Playwright's sync API runs an event loop in the test thread; Django would then refuse ORM
# calls from the test body. The test body is still plain synchronous code, so this is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# pytest-xdist (make test runs the suite in parallel, README "Tests") names each of its worker processes gw0,
# gw1, …; pytest-django already gives each its own test database (test_<name>_gw0). Set once here.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _separate_xdist_worker() -> None:
    """Give this xdist worker its own cache key prefix: the autouse fixture below deletes every key under the
    prefix before and after each test, which would wipe the rate-limit counters, cached pages and channel-layer
    keys of a test the other worker is running. The channel layer's prefix follows (a chat test's push must not
    reach the other worker's servers), and so do the processes the tests start (uvicorn, Celery workers), which
    read CACHE_KEY_PREFIX from the environment. pytest-django loaded the settings before this conftest, but no
    cache or channel layer has been built yet: both read these values when first used."""
    if not XDIST_WORKER:
        return
    from django.conf import settings
    from django.core.cache import caches

    prefix = f"{settings.CACHE_KEY_PREFIX}-{XDIST_WORKER}"
    assert not caches.all(initialized_only=True), "a cache was built before its key prefix was made per-worker"
    settings.CACHE_KEY_PREFIX = prefix
    os.environ["CACHE_KEY_PREFIX"] = prefix
    for options in settings.CACHES.values():
        options["KEY_PREFIX"] = prefix
    layers: dict[str, dict] = settings.CHANNEL_LAYERS
    for layer in layers.values():
        if "prefix" in layer.get("CONFIG", {}):
            layer["CONFIG"]["prefix"] = f"{prefix}:asgi"


_separate_xdist_worker()


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the tests marked slow (minutes each: the schemathesis run, the axe pages) go first,
    in their own order: started last, one would keep a worker busy after the other had run out of tests.
    Every worker collects the same order; serially nothing moves."""
    if XDIST_WORKER:
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the rest keep theirs


def require_service(name: str, available: bool, how: str = "") -> None:
    """Skip a test whose service is missing, except under CI=true, where a missing service fails it."""
    if available:
        return
    message = f"{name} is not available{': ' + how if how else ''}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: every service must be present)")
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def clear_cache() -> None:
    """Empty this run's cache. On Redis, only our CACHE_KEY_PREFIX's keys: cache.clear() is FLUSHDB there,
    which would also wipe the counters and channel-layer keys of another test run sharing that Redis."""
    from django.conf import settings as django_settings

    from coaches.directory import forget_cards, forget_languages

    forget_languages()  # its in-process copy holds ids, which a flushed test database renumbers
    forget_cards()  # stamped with a directory version, which restarts at 0 in an emptied cache
    if not django_settings.REDIS_URL:
        cache.clear()
        return
    # The pooled client of Django's RedisCache; django-stubs leave out its private `_cache` attribute.
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=f"{django_settings.CACHE_KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _isolated_cache_and_eager_tasks(settings):
    """Rate-limit counters live in the cache (Redis in CI): start each test from zero.

    Celery runs tasks in-process during tests even when a Redis broker is configured.
    """
    clear_cache()
    # Real hashing costs ~0.3 s per password on these machines; tests check rules, not hash strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    clear_cache()
    # A Celery() made in a test becomes the current app unless told otherwise (set_as_current=False);
    # every shared_task then resolves to it, so later tests' .delay() silently went to its broker.
    assert current_app._get_current_object() is celery_app, (
        "this test left another Celery app current (set_as_current=False)"
    )


@pytest.fixture
def password():
    return "correct-horse-battery-staple-42"


@pytest.fixture
def client_user(db):
    from accounts.tests.factories import ClientFactory

    return ClientFactory()


@pytest.fixture
def coach_user(db):
    from coaches.tests.factories import CoachProfileFactory

    return CoachProfileFactory().user


@pytest.fixture
def other_client(db):
    from accounts.tests.factories import ClientFactory

    return ClientFactory()


@pytest.fixture
def other_coach(db):
    from coaches.tests.factories import CoachProfileFactory

    return CoachProfileFactory().user


@pytest.fixture
def staff_user(db):
    from accounts.tests.factories import StaffFactory

    return StaffFactory()


@pytest.fixture
def order(db, client_user, coach_user):
    """A pending (unpaid) order between client_user and coach_user, made through the real services."""
    from orders.tests.factories import make_order

    return make_order(client=client_user, coach=coach_user)


@pytest.fixture
def paid_order(order):
    from orders import services

    return services.mark_paid(order.pk, actor=None)


@pytest.fixture
def compilations(monkeypatch):
    """The models of the queries the ORM compiles to SQL from here on (core.sqlmemo compiles each shape once)."""
    from django.db.models.sql.compiler import SQLCompiler

    seen = []
    as_sql = SQLCompiler.as_sql

    def counted(self, *args, **kwargs):
        seen.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    return seen


@pytest.fixture
def fresh_sqlmemo():
    """core.sqlmemo's per-process shapes forgotten before and after: a test sees its first compilation."""
    from core import sqlmemo

    sqlmemo.forget()
    yield
    sqlmemo.forget()


@pytest.fixture
def local_media(settings, tmp_path):
    """Uploads go to a throwaway local folder and the dev no-op scanner marks them clean."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FILE_STORAGE_KIND = "local"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.CLAMD_URL = ""
    settings.FILE_SCAN_NOOP_ALLOWED = True
    return tmp_path / "media"


@pytest.fixture
def csrf_client():
    """A test client that enforces CSRF like a browser does."""
    from django.test import Client

    return Client(enforce_csrf_checks=True)


# --- Browser (Playwright + Debian's Chromium) -------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    require_service("Chromium", os.path.exists(CHROMIUM), "apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture
def artifacts_dir():
    path = os.path.join(os.path.dirname(__file__), "artifacts")
    os.makedirs(path, exist_ok=True)
    return path
