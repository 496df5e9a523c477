import pytest

from core.tests.asyncutil import off_the_loop


@pytest.mark.django_db
def test_landing_page_shows_all_sections(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for section in (
        "hero-title",
        "services-title",
        "how-title",
        "pricing-title",
        "testimonials-title",
        "cta-title",
        "site-footer",
    ):
        assert section in html


def test_health_answers_without_database(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_each_backing_service(client):
    response = off_the_loop(client.get, "/ready")  # the channel-layer probe calls async_to_sync
    assert response.status_code == 200, response.json()  # which check failed
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_order_fixture_goes_through_the_real_services(paid_order):
    assert paid_order.status == "in_progress"
    assert [e.to_status for e in paid_order.events.all()] == ["pending", "in_progress"]
