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
