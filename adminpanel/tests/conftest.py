import pytest
from django.test import Client


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def history(db):
    """1,000 orders in every state with their requests, payments, ledger, reviews, files…"""
    from adminpanel.bulk_seed import seed

    return seed(1000, days=120, tag="t")


@pytest.fixture
def test_payments(settings):
    """The built-in test provider runs only with DEBUG on (pytest-django turns it off)."""
    settings.DEBUG = True
    settings.TEST_PAYMENTS_ENABLED = True


@pytest.fixture
def disputed_order(order, client_user, test_payments, django_capture_on_commit_callbacks):
    """An order paid through the test provider (captured, ledger charge), then disputed by its client."""
    from orders import services as order_services
    from payments import services as payment_services

    with django_capture_on_commit_callbacks(execute=True):
        payment = payment_services.start_test_checkout(order.pk, actor=client_user)
        payment_services.fulfil_payment(
            payment.pk, amount_minor=order.amount_minor, currency=order.currency, source="test"
        )
        order_services.open_dispute(order.pk, actor=client_user, reason="The CV was not what we agreed.")
    order.refresh_from_db()
    assert order.status == "disputed"
    return order


@pytest.fixture
def reviewed_order(paid_order, client_user, coach_user):
    from orders import services as order_services

    order_services.deliver(paid_order.pk, actor=coach_user, note="Here it is.")
    order_services.accept_delivery(paid_order.pk, actor=client_user)
    review = order_services.submit_review(paid_order.pk, actor=client_user, rating=5, comment="Great")
    return review
