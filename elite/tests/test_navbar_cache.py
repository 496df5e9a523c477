"""The navbar is cached (base.html's {% cached_include %}) under the user's id, role, staff flag, name and
bell count: each user sees their own, and a change to any of them shows on the next page."""

import re

import pytest

from accounts.models import Role
from accounts.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

NAVBAR = "partials/navbar.html"
FOOTER = "partials/footer.html"


def visit(client, user=None, path="/dashboard/"):
    if user is not None:
        client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response


def navbar(response) -> str:
    found = re.search(r'<nav class="navbar.*?</nav>', response.content.decode(), re.S)
    assert found
    return found.group(0)


def test_a_second_page_renders_no_navbar(client, client_user):
    assert any(t.name == NAVBAR for t in visit(client, client_user).templates)
    assert not any(t.name == NAVBAR for t in visit(client).templates)


def test_each_user_sees_their_own_name_and_menu(client, client_user, coach_user):
    client_nav = navbar(visit(client, client_user))
    coach_nav = navbar(visit(client, coach_user))
    assert client_user.display_name in client_nav and coach_user.display_name not in client_nav
    assert coach_user.display_name in coach_nav and "My requests" not in coach_nav and "Jobs" in coach_nav


def test_a_new_name_and_a_new_role_show_at_once(client):
    user = ClientFactory(first_name="Ada", last_name="Lovelace")
    assert "Ada Lovelace" in navbar(visit(client, user))
    type(user).objects.filter(pk=user.pk).update(first_name="Grace", last_name="Hopper", role=Role.ADMIN, is_staff=True)
    nav = navbar(visit(client, path="/notifications/"))
    assert "Grace Hopper" in nav and "Ada Lovelace" not in nav and "Console" in nav


def test_the_navbar_holds_no_csrf_token_and_the_logout_form_is_outside_it(client, client_user):
    response = visit(client, client_user)
    assert "csrfmiddlewaretoken" not in navbar(response)
    assert 'form="logout-form"' in navbar(response)
    assert re.search(
        r'<form [^>]*id="logout-form"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"',
        response.content.decode(),
    )


def test_anonymous_visitors_get_the_anonymous_navbar(client, client_user):
    visit(client, client_user)
    client.logout()
    nav = navbar(visit(client, path="/"))
    assert "Log in" in nav and client_user.display_name not in nav


def test_the_footer_is_rendered_once_and_shows_this_year(client):
    from django.utils import timezone

    first = visit(client, path="/")
    second = visit(client, path="/coaches/")

    assert [t.name for t in first.templates].count(FOOTER) <= 1
    assert FOOTER not in [t.name for t in second.templates]
    year = str(timezone.localdate().year)
    for response in (first, second):
        assert f"&copy; {year} Elite Writing Services" in response.content.decode()


def test_the_footer_of_another_year_is_another_fragment():
    from django.template.loader import get_template

    base = get_template("partials/footer.html")
    assert "&copy; 2031 " in base.render({"footer_year": "2031"})
    from core.fragments import rendered_one

    made = []
    for year in ("2030", "2031", "2030"):
        html = rendered_one(FOOTER, [year], lambda year=year: made.append(year) or {"footer_year": year})
        assert f"&copy; {year} " in html
    assert made == ["2030", "2031"]
