"""403/404/500 answer with the site's own styled pages, never Django's bare ones or a traceback."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls_access")]


def test_404_is_styled(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="navbar' in html
    assert "site-footer" in html


def test_500_is_styled_and_hides_the_error():
    client = Client(raise_request_exception=False)
    response = client.get("/t/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "a bug" not in html
    assert "Traceback" not in html


def test_403_is_styled(client, coach_user):
    client.force_login(coach_user)
    response = client.get("/t/client-only/")
    assert response.status_code == 403
    assert "Access denied" in response.content.decode()
