"""Non-staff reaching /admin/ or /staff/… get the login page or a 403, never data."""

import pytest
from django.test import Client
from django.urls import reverse

STAFF_PAGES = ["/staff/analytics/", "/staff/transactions/", "/staff/transactions/?format=csv"]
ADMIN_PAGES = ["/admin/", "/admin/orders/order/", "/admin/accounts/user/", "/admin/audit/auditlog/"]


@pytest.mark.parametrize("url", STAFF_PAGES + ADMIN_PAGES)
def test_anonymous_is_sent_to_the_login_page(db, url):
    response = Client().get(url, follow=True)
    assert response.redirect_chain, url
    final = response.redirect_chain[-1][0]
    assert final.startswith(reverse("account_login")), final
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
@pytest.mark.parametrize("url", STAFF_PAGES)
def test_clients_and_coaches_get_403_on_staff_pages(request, order, who, url):
    browser = Client()
    browser.force_login(request.getfixturevalue(who))
    response = browser.get(url)
    assert response.status_code == 403
    assert order.title.encode() not in response.content
    assert b"text/csv" not in response.get("Content-Type", "").encode()


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_clients_and_coaches_never_see_the_console(request, order, who, url):
    browser = Client()
    browser.force_login(request.getfixturevalue(who))
    response = browser.get(url, follow=True)
    assert response.status_code == 403
    assert order.title.encode() not in response.content
    assert order.client.email.encode() not in response.content


def test_staff_reach_every_page(staff_client, order):
    for url in STAFF_PAGES + ADMIN_PAGES:
        assert staff_client.get(url).status_code == 200, url


def test_console_index_links_the_staff_pages(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert 'href="/staff/analytics/"' in html and 'href="/staff/transactions/"' in html
    assert "Elite Writing Services" in html


def test_admin_login_page_hands_over_to_the_site_login(db):
    response = Client().get("/admin/login/?next=/admin/orders/order/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=" in response["Location"]


def test_admin_password_change_uses_the_site_form(staff_client):
    response = staff_client.get("/admin/password_change/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_change_password")
