"""Metrics: who may read /metrics, and that requests, cache look-ups and business events move them."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from payments.models import Payment
from payments.providers import test_provider

TOKEN = "scrape-token-for-tests"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def scrape_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.9.0.0/16"]
    return settings


@pytest.mark.django_db
def test_metrics_is_404_to_anyone_not_allowed(client, scrape_settings):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 404


@pytest.mark.django_db
def test_metrics_is_404_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.django_db
def test_a_scraper_with_the_token_or_from_an_allowed_network_reads_it(client, scrape_settings):
    by_token = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert by_token.status_code == 200
    assert by_token["Content-Type"].startswith("text/plain")
    assert b'elite_ready{check="database"} 1.0' in by_token.content
    by_address = Client(REMOTE_ADDR="10.9.3.4").get("/metrics")
    assert by_address.status_code == 200 and b"elite_scan_queue_length" in by_address.content


@pytest.mark.django_db
def test_behind_the_proxy_a_visitor_cannot_pose_as_an_allowed_address(scrape_settings):
    scrape_settings.TRUSTED_PROXY_COUNT = 1
    # nginx (10.9.0.1, allowed) forwards a visitor from 203.0.113.7, who wrote a fake hop first.
    visitor = Client(REMOTE_ADDR="10.9.0.1", HTTP_X_FORWARDED_FOR="10.9.0.5, 203.0.113.7")
    assert visitor.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_a_page_counts_its_request_latency_and_queries(client):
    before = sample("elite_http_requests_total", view="landing", method="GET", status="2xx")
    before_queries = sample("elite_http_request_db_queries_count", view="landing")
    assert client.get("/").status_code == 200
    assert sample("elite_http_requests_total", view="landing", method="GET", status="2xx") == before + 1
    assert sample("elite_http_request_duration_seconds_count", view="landing") >= 1
    assert sample("elite_http_request_db_queries_count", view="landing") == before_queries + 1
    assert sample("elite_http_request_db_queries_sum", view="landing") > 0


@pytest.mark.django_db
def test_an_unknown_path_is_one_series_not_one_per_path(client):
    before = sample("elite_http_requests_total", view="unmatched", method="GET", status="4xx")
    client.get("/no-such-page-1/")
    client.get("/no-such-page-2/")
    assert sample("elite_http_requests_total", view="unmatched", method="GET", status="4xx") == before + 2


def test_cache_hits_and_misses_are_counted():
    from django.core.cache import cache

    hits, misses = (
        sample("elite_cache_requests_total", result="hit"),
        sample("elite_cache_requests_total", result="miss"),
    )
    cache.set("ops-test-key", 1, 30)
    assert cache.get("ops-test-key") == 1
    assert cache.get("ops-test-absent", "default") == "default"
    assert cache.get_many(["ops-test-key", "ops-test-absent"]) == {"ops-test-key": 1}
    assert sample("elite_cache_requests_total", result="hit") == hits + 2
    assert sample("elite_cache_requests_total", result="miss") == misses + 2


def test_a_pages_read_ahead_is_counted_as_the_reads_it_replaces():
    """core.cache.prefetch_for's one script: each value found a hit, each value missing or version started a miss."""
    from django.conf import settings
    from django.core.cache import cache

    from conftest import require_service
    from core.cache import _fresh_version

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    cache.set("version:ops-ahead:1", 7, 30)
    cache.set("ops-ahead:1:a", (7, "a"), 30)
    cache.delete_many(["version:ops-ahead:2", "ops-ahead:1:b"])
    hits, misses = (
        sample("elite_cache_requests_total", result="hit"),
        sample("elite_cache_requests_total", result="miss"),
    )
    found, started = cache.read_ahead_many(
        ["version:ops-ahead:1", "version:ops-ahead:2"], ["ops-ahead:1:a", "ops-ahead:1:b"], _fresh_version(), 30
    )
    assert started == 1 and found["version:ops-ahead:1"] == 7 and found["ops-ahead:1:a"] == (7, "a")
    assert found["ops-ahead:1:b"] is None and isinstance(found["version:ops-ahead:2"], int)
    assert sample("elite_cache_requests_total", result="hit") == hits + 2
    assert sample("elite_cache_requests_total", result="miss") == misses + 2


def _post_test_event(payload: bytes):
    return Client().post(
        "/payments/webhooks/test/",
        data=payload,
        content_type="application/json",
        headers={"Test-Signature": test_provider.sign(payload)},
    )


@pytest.mark.django_db
def test_a_payment_moves_the_business_counters(client, client_user, order, django_capture_on_commit_callbacks):
    client.force_login(client_user)
    captured = sample("elite_payments_total", provider="test", outcome="captured")
    amount = sample("elite_payment_amount_total", outcome="captured", currency="GBP")
    processed = sample(
        "elite_webhook_events_total", provider="test", event_type="payment.succeeded", status="processed"
    )
    paid = sample("elite_order_transitions_total", from_status="pending", to_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/payments/checkout/{order.pk}/test/")
        payment = Payment.objects.get(order=order)
        client.post(f"/payments/test/{payment.pk}/submit/", {"action": "pay"})
    assert sample("elite_payments_total", provider="test", outcome="captured") == captured + 1
    assert sample("elite_payment_amount_total", outcome="captured", currency="GBP") == amount + 120
    labels = {"provider": "test", "event_type": "payment.succeeded"}
    assert sample("elite_webhook_events_total", **labels, status="processed") == processed + 1
    assert sample("elite_order_transitions_total", from_status="pending", to_status="in_progress") == paid + 1


@pytest.mark.django_db
def test_a_capture_is_counted_from_its_audit_row_without_reading_the_payment(
    order, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from audit.services import record as audit

    payment = Payment.objects.create(
        order=order,
        client=order.client,
        provider="stripe",
        provider_payment_id="cs_metrics_probe",
        amount_minor=4550,
        currency="EUR",
    )
    details = {"amount_minor": 4550, "currency": "EUR", "provider": "stripe", "source": "test", "order": order.pk}
    captured = sample("elite_payments_total", provider="stripe", outcome="captured")
    amount = sample("elite_payment_amount_total", outcome="captured", currency="EUR")
    with django_capture_on_commit_callbacks() as callbacks:
        audit("payment.captured", payment, details=details)
    with django_assert_num_queries(0):
        for callback in callbacks:
            callback()
    assert sample("elite_payments_total", provider="stripe", outcome="captured") == captured + 1
    assert sample("elite_payment_amount_total", outcome="captured", currency="EUR") == amount + 45.5


@pytest.mark.django_db
def test_a_failed_webhook_is_counted_failed(django_capture_on_commit_callbacks):
    labels = {"provider": "test", "event_type": "payment.succeeded"}
    received, failed = (sample("elite_webhook_events_total", **labels, status=s) for s in ("received", "failed"))
    payload = test_provider.build_event("payment.succeeded", payment="tp_nobody", amount=100, currency="GBP")
    with django_capture_on_commit_callbacks(execute=True):
        assert _post_test_event(payload).status_code == 500
    assert sample("elite_webhook_events_total", **labels, status="received") == received + 1
    assert sample("elite_webhook_events_total", **labels, status="failed") == failed + 1


@pytest.mark.django_db
def test_a_rolled_back_change_is_not_counted(order, django_capture_on_commit_callbacks):
    from django.db import transaction

    from orders import services

    before = sample("elite_order_transitions_total", from_status="pending", to_status="cancelled")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            services.cancel_order(order.pk, actor=order.client, reason="changed my mind")
            raise RuntimeError("roll back")
        services.cancel_order(order.pk, actor=order.client, reason="changed my mind")
    assert sample("elite_order_transitions_total", from_status="pending", to_status="cancelled") == before + 1


@pytest.mark.django_db
def test_a_refund_counts_requested_and_confirmed_with_its_money(order, staff_user, django_capture_on_commit_callbacks):
    from payments import services
    from payments.webhooks import deliver_test_event

    requested, confirmed = (sample("elite_refunds_total", outcome=o) for o in ("requested", "confirmed"))
    money = sample("elite_refund_amount_total", outcome="confirmed", currency="GBP")
    with django_capture_on_commit_callbacks(execute=True):
        payment = services.start_test_checkout(order.pk, actor=order.client)
        deliver_test_event("payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP")
        payment.refresh_from_db()
        services.refund(payment.pk, amount_minor=2500, actor=staff_user, reason="Late delivery")
    assert sample("elite_refunds_total", outcome="requested") == requested + 1
    assert sample("elite_refunds_total", outcome="confirmed") == confirmed + 1
    assert sample("elite_refund_amount_total", outcome="confirmed", currency="GBP") == money + 25


@pytest.mark.django_db
def test_scan_verdicts_are_counted(client_user, local_media, django_capture_on_commit_callbacks):
    from files import services
    from files.scanner import Verdict
    from files.tests.samples import pdf_bytes, upload

    clean, infected = (sample("elite_uploads_scanned_total", verdict=v) for v in ("clean", "infected"))
    with django_capture_on_commit_callbacks(execute=True):
        first = services.store_upload(upload(pdf_bytes("one")), actor=client_user, category="cv_upload")
        second = services.store_upload(upload(pdf_bytes("two")), actor=client_user, category="cv_upload")
        services.record_verdict(first.pk, Verdict(infected=False))
        services.record_verdict(second.pk, Verdict(infected=True, detail="Test.EICAR"))
    assert sample("elite_uploads_scanned_total", verdict="clean") >= clean + 1
    assert sample("elite_uploads_scanned_total", verdict="infected") == infected + 1


@pytest.mark.django_db
def test_reconciliation_sets_the_mismatch_gauge_and_tasks_are_counted():
    from payments.tasks import reconcile_ledger

    started = sample("elite_celery_tasks_total", task="payments.tasks.reconcile_ledger", state="started")
    succeeded = sample("elite_celery_tasks_total", task="payments.tasks.reconcile_ledger", state="succeeded")
    reconcile_ledger.apply()
    assert sample("elite_ledger_reconcile_mismatches") == 0
    assert sample("elite_ledger_reconcile_last_run_timestamp_seconds") > 0
    assert sample("elite_celery_tasks_total", task="payments.tasks.reconcile_ledger", state="started") == started + 1
    assert (
        sample("elite_celery_tasks_total", task="payments.tasks.reconcile_ledger", state="succeeded") == succeeded + 1
    )
