"""A real Celery worker on Redis is killed mid-task: the email is neither lost nor sent twice.

The worker is its own process (prefork, one child) on its own Redis database and queue, sharing the
test database, and sends through a loopback SMTP server this test reads. The SMTP server holds the
first delivery without answering (a slow provider), and the fault is injected while it waits.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings

from conftest import port_open, require_service
from messaging.tests.conftest import database_url_of_test_db
from notifications.models import Notification, SentEmail
from ops.tests.suite_logs import watch_process_log

from .smtp_server import LoopbackSMTP

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults, pytest.mark.services]

BASE_DIR = Path(__file__).resolve().parents[2]
BROKER_DB = 13  # not the app's (0) nor another suite's; the queue name is unique per run as well
TASK = "notifications.tasks.send_notification_email"


def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
    return result


@pytest.fixture
def smtp():
    server = LoopbackSMTP().start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def worker(tmp_path, smtp):
    """start() runs a Celery worker process (prefork, one child) consuming a queue of its own."""
    require_service("Redis", bool(settings.REDIS_URL) and port_open("127.0.0.1", 6379), "set REDIS_URL")
    require_service("PostgreSQL", settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), "DATABASE_URL")
    broker = f"redis://127.0.0.1:6379/{BROKER_DB}"
    queue = f"faults-{uuid.uuid4().hex[:10]}"
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_test_db(),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": "3",  # a killed worker's message comes back quickly
            "CELERY_UNACKED_RESTORE_SECONDS": "1",  # and is looked for every second
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "CONN_MAX_AGE": "0",
            "DEBUG": "true",
        }
        log = open(tmp_path / f"worker-{len(processes)}.log", "wb")  # noqa: SIM115 - the process keeps it
        watch_process_log(tmp_path / f"worker-{len(processes)}.log")
        command = [sys.executable, "-m", "celery", "-A", "elite", "worker", "-Q", queue, "-c", "1", "-P", "prefork"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]
        command += ["-n", f"{queue}-{len(processes)}@%h"]
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        processes.append(process)
        return process

    def send(notification_id: int) -> None:
        with Celery("faults-producer", broker=broker, set_as_current=False) as producer:
            producer.send_task(TASK, args=[notification_id, {}], queue=queue)

    start.send = send
    start.queue = queue
    yield start
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for index in range(len(processes)):
        print(f"--- worker {index} log ---\n" + (tmp_path / f"worker-{index}.log").read_text()[-3000:])
    with Celery("faults-cleanup", broker=broker, set_as_current=False) as app, app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def notification(user) -> Notification:
    return Notification.objects.create(user=user, kind="order_paid", text="Your order is paid.")


def delivered_to(smtp, email: str) -> list:
    return [m for m in smtp.messages if email in m["To"]]


def worker_waiting_on_smtp(worker, smtp, note) -> subprocess.Popen:
    """A worker whose task for `note` is stuck in SMTP DATA (no answer yet: nothing delivered)."""
    process = worker()
    smtp.stall_next()
    worker.send(note.pk)
    until(lambda: smtp.stalled.is_set(), 60, "the worker to reach the SMTP DATA step")
    return process


def assert_delivered_once(smtp, email: str) -> None:
    until(lambda: delivered_to(smtp, email), 60, "the redelivered task to send the email")
    time.sleep(2)  # room for a duplicate to show up
    assert len(delivered_to(smtp, email)) == 1


def test_a_child_killed_mid_send_is_redelivered_and_the_email_sent_once(worker, smtp, client_user):
    """acks_late alone acks the message of a child that died (WorkerLostError): the email was lost."""
    note = notification(client_user)
    process = worker_waiting_on_smtp(worker, smtp, note)
    [child] = children(process.pid)
    os.kill(child, signal.SIGKILL)

    assert_delivered_once(smtp, client_user.email)
    entry = SentEmail.objects.get(key=f"notification:{note.pk}")
    assert entry.sent_at is not None
    assert entry.attempts == 2


def test_a_worker_killed_outright_is_redelivered_after_restart_and_sent_once(worker, smtp, client_user):
    note = notification(client_user)
    first = worker_waiting_on_smtp(worker, smtp, note)
    os.killpg(first.pid, signal.SIGKILL)  # the whole worker: nobody is left to put the message back
    first.wait()

    worker()  # a restarted worker picks the unacked message up once its visibility timeout has passed
    assert_delivered_once(smtp, client_user.email)
    assert SentEmail.objects.get(key=f"notification:{note.pk}").sent_at is not None


def test_a_redelivered_task_whose_email_went_out_does_not_send_it_again(worker, smtp, client_user, other_client):
    """The same message delivered twice (a visibility timeout passing while its first run finishes)."""
    note = notification(client_user)
    worker()
    worker.send(note.pk)
    until(lambda: delivered_to(smtp, client_user.email), 60, "the first delivery")
    worker.send(note.pk)
    marker = notification(other_client)  # one worker, one child, one queue: handled after the duplicate
    worker.send(marker.pk)
    until(lambda: delivered_to(smtp, other_client.email), 60, "the email queued after the duplicate")
    assert len(delivered_to(smtp, client_user.email)) == 1
