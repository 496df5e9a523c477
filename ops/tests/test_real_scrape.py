"""A real scrape: Debian's Prometheus scrapes a running gunicorn, uvicorn and Celery worker.

The test drives a payment with the test provider, a webhook that fails (answered 500) and a websocket,
then asks Prometheus' HTTP API whether the series moved and whether WebhookEventsFailing is pending or
firing. Everything listens on free loopback ports; the whole run is bounded (about 30 s here).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from conftest import port_open, require_service
from files.tests.conftest import free_port
from messaging.tests.conftest import database_url_of_test_db, require_postgres_and_redis
from ops.tests.suite_logs import watch_process_log
from payments.providers import test_provider

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "real-scrape-token"
DEADLINE_SECONDS = 80


class Processes:
    """Servers started by one test, each in its own process group, stopped (and logs shown) at the end."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder, self.env = folder, env
        self.started: list[tuple[str, subprocess.Popen, IO[bytes]]] = []

    def start(self, name: str, argv: list[str], port: int, **extra_env: str) -> int:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop_all
        watch_process_log(self.folder / f"{name}.log")
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append((name, process, log))
        deadline = time.monotonic() + 30
        while not port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{name} did not start:\n{self.log(name)}")
            time.sleep(0.2)
        return port

    def log(self, name: str, tail: int = 3000) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-tail:]

    def stop_all(self) -> None:
        for name, process, log in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
            print(f"--- {name} ---\n{self.log(name)}")


def multiproc_dir(root: Path, name: str) -> str:
    folder = root / "metrics" / name
    folder.mkdir(parents=True)
    return str(folder)


@pytest.fixture
def stack(tmp_path, settings):
    """gunicorn (2 workers), uvicorn, a Celery worker and Prometheus scraping all three every second."""
    require_postgres_and_redis()
    prometheus = shutil.which("prometheus")
    require_service("prometheus", prometheus is not None, "apt-get install prometheus")
    queue = f"{settings.CACHE_KEY_PREFIX}-scrape"
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE": queue,
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "METRICS_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "0",
        "EMAIL_URL": "consolemail://",  # the worker prints the emails it sends: lines of its log
    }
    processes = Processes(tmp_path, env)
    bin_dir = Path(sys.executable).parent
    web, ws, worker, prom = free_port(), free_port(), free_port(), free_port()
    try:
        processes.start(
            "web",
            [str(bin_dir / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "elite.wsgi:application"]
            + ["--bind", f"127.0.0.1:{web}", "--workers", "2"],
            web,
            PROMETHEUS_MULTIPROC_DIR=multiproc_dir(tmp_path, "web"),
        )
        processes.start(
            "ws",
            [sys.executable, "-m", "uvicorn", "elite.asgi:application", "--host", "127.0.0.1", "--port", str(ws)]
            + ["--no-access-log", "--timeout-graceful-shutdown", "2"],
            ws,
            PROMETHEUS_MULTIPROC_DIR=multiproc_dir(tmp_path, "ws"),
        )
        processes.start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "elite", "worker", "--concurrency", "1", "-Q", queue]
            + ["--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            worker,
            PROMETHEUS_MULTIPROC_DIR=multiproc_dir(tmp_path, "worker"),
            CELERY_METRICS_PORT=str(worker),
        )
        config = tmp_path / "prometheus"
        config.mkdir()
        shutil.copy(ROOT / "deploy" / "prometheus" / "alerts.yml", config / "alerts.yml")
        (config / "token").write_text(TOKEN)
        jobs = {"web": web, "ws": ws, "worker": worker}
        scrape = [
            {
                "job_name": job,
                "authorization": {"credentials_file": "token"},
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }
            for job, port in jobs.items()
        ]
        (config / "prometheus.yml").write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
                    "rule_files": ["alerts.yml"],
                    "scrape_configs": scrape,
                }
            )
        )
        processes.start(
            "prometheus",
            [str(prometheus), f"--config.file={config / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}"]
            + [f"--web.listen-address=127.0.0.1:{prom}", "--log.level=warn"],
            prom,
        )
        yield {
            "web": f"http://127.0.0.1:{web}",
            "ws": f"ws://127.0.0.1:{ws}",
            "prometheus": f"http://127.0.0.1:{prom}",
            "log": processes.log,
        }
    finally:
        processes.stop_all()


def query(prometheus: str, expr: str) -> list[dict]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]


def wait_for(what: str, check, deadline: float):
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def logged_in_session(user, web: str) -> requests.Session:
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(f"{web}/dashboard/", timeout=10)  # sets the CSRF cookie
    session.headers["X-CSRFToken"] = session.cookies.get("csrftoken") or ""
    return session


def pay_with_the_test_provider(session: requests.Session, web: str, order) -> str:
    from payments.models import Payment

    checkout = session.post(f"{web}/payments/checkout/{order.pk}/test/", allow_redirects=False, timeout=10)
    assert checkout.status_code == 302, checkout.text[:500]
    payment = Payment.objects.get(order=order)
    paid = session.post(
        f"{web}/payments/test/{payment.pk}/submit/", {"action": "pay"}, allow_redirects=False, timeout=10
    )
    assert paid.status_code == 302, paid.text[:500]
    payment.refresh_from_db()
    assert payment.status == "captured"
    return paid.headers["X-Request-ID"]


def deliver_a_failing_webhook(web: str) -> None:
    payload = test_provider.build_event("payment.succeeded", payment="tp_nobody_knows", amount=100, currency="GBP")
    response = requests.post(
        f"{web}/payments/webhooks/test/",
        data=payload,
        headers={"Content-Type": "application/json", test_provider.SIGNATURE_HEADER: test_provider.sign(payload)},
        timeout=10,
    )
    assert response.status_code == 500


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_web_ws_and_worker_and_the_webhook_alert_goes_off(stack, client_user, order):
    from websockets.sync.client import connect

    deadline = time.monotonic() + DEADLINE_SECONDS
    prometheus, web = stack["prometheus"], stack["web"]
    assert requests.get(f"{web}/metrics", timeout=5).status_code == 404  # no token: the public site's answer
    wait_for("all three targets up", lambda: len(query(prometheus, "up == 1")) == 3, deadline)
    failed = 'elite_webhook_events_total{provider="test",event_type="payment.succeeded",status="failed"}'
    wait_for("the zero failure series scraped", lambda: query(prometheus, f"{failed} == 0"), deadline)

    session = logged_in_session(client_user, web)
    paid_request_id = pay_with_the_test_provider(session, web, order)
    deliver_a_failing_webhook(web)
    cookie = f"sessionid={session.cookies['sessionid']}"
    with connect(f"{stack['ws']}/ws/live/", additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}) as ws:
        ws.send(json.dumps({"type": "ping"}))
        while json.loads(ws.recv(timeout=10))["type"] != "pong":  # the live counts come first
            pass
        wait_for("an open socket", lambda: query(prometheus, 'elite_ws_open_sockets{route="live"} == 1'), deadline)

    moved = {
        "payment captured": 'elite_payments_total{provider="test",outcome="captured"} == 1',
        "its money": 'elite_payment_amount_total{outcome="captured",currency="GBP"} == 120',
        "the failed webhook": f"{failed} == 1",
        "the 500": 'sum(elite_http_requests_total{job="web",status="5xx"}) >= 1',
        "page latency": 'sum(elite_http_request_duration_seconds_count{job="web"}) > 3',
        "queries per request": 'sum(elite_http_request_db_queries_sum{job="web"}) > 0',
        "websocket frames": 'elite_ws_messages_total{job="ws",direction="in"} >= 1',
        "a task the worker ran": 'sum(elite_celery_tasks_total{job="worker",state="succeeded"}) >= 1',
        "the queue gauge": "elite_celery_queue_length",
        "readiness": 'min(elite_ready{job="web"}) == 1',
    }
    for what, expr in moved.items():
        wait_for(what, lambda expr=expr: query(prometheus, expr), deadline)

    def webhook_alert():
        alerts = requests.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "WebhookEventsFailing"]

    (alert,) = wait_for("WebhookEventsFailing", webhook_alert, deadline)
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["provider"] == "test" and alert["labels"]["status"] == "failed"
    # The payment's emails were sent by the worker, whose log lines carry the paying request's id.
    wait_for("the task's log line", lambda: f"[{paid_request_id}]" in stack["log"]("worker", 10**7), deadline)
