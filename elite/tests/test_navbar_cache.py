"""The navbar is filled in (base.html's {% navbar %}) from a form rendered once per process and shape (signed
in, role, staff flag, bell lit) with slots for the user's name and bell count: each user sees their own, a
change to any of them shows on the next page, and what it prints is the template's own render."""

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context
from django.template.loader import get_template
from django.test import override_settings

from accounts.models import Role
from accounts.tests.factories import ClientFactory, CoachUserFactory, StaffFactory
from core import fragments
from notifications import services as notifications
from notifications.templatetags.navbar import navbar_html

pytestmark = pytest.mark.django_db

NAVBAR = "partials/navbar.html"
FOOTER = "partials/footer.html"


@pytest.fixture(autouse=True)
def no_navbar_forms():
    """Each test starts as a fresh process would: no shape of the navbar filled in yet (they are per process)."""
    fragments._slotted_forms.clear()


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


def test_another_users_first_visit_renders_no_navbar_and_caches_none(client, client_user, monkeypatch):
    """Another client with a dark bell: the form of that shape, filled in with their name; no fragment read."""
    visit(client, client_user)
    other = ClientFactory(first_name="Grace", last_name="Hopper")
    asked: list = []
    rendered_one = fragments.rendered_one
    monkeypatch.setattr(fragments, "rendered_one", lambda *a, **k: asked.append(a[0]) or rendered_one(*a, **k))
    response = visit(client, other)
    assert not any(t.name == NAVBAR for t in response.templates)
    assert NAVBAR not in asked
    nav = navbar(response)
    assert "Grace Hopper" in nav and client_user.display_name not in nav


def test_a_new_notification_lights_the_bell_at_once(client, client_user, django_capture_on_commit_callbacks):
    assert 'aria-label="Notifications">' in navbar(visit(client, client_user))
    with django_capture_on_commit_callbacks(execute=True):
        for text in ("One", "Two", "Three"):
            notifications.notify(client_user, "test", text, email=False)
    nav = navbar(visit(client))
    assert 'aria-label="Notifications, 3 unread"' in nav
    assert 'data-unread-badge="notifications">3</span>' in nav


def _real(user, unread) -> str:
    return get_template(NAVBAR).render({"user": user, "unread_notifications": unread})


def _visitors():
    names = [("Ada", "Lovelace"), ('<b>Bold</b> & "quoted"', "O'Brien"), ("", ""), ("ADA", "LOVELACE"), ("a", "b")]
    users = [ClientFactory(first_name=f, last_name=last) for f, last in names]
    users += [CoachUserFactory(first_name=f, last_name=last) for f, last in names[:3]]
    users += [StaffFactory(first_name="Staff <i>", last_name="Member", is_staff=True)]
    users += [CoachUserFactory(first_name="Staff", last_name="Coach", is_staff=True)]
    return users


def test_each_filled_navbar_is_the_templates_own_render():
    """After the first fill of each shape, every other visitor's navbar (names to escape, empty, upper and lower
    case; dark and lit bells of several counts; each role, staff or not; anonymous) is what a render prints. A
    template that prints the slots' values otherwise than {{ value }} (a filter) or tests them fails here."""
    users = _visitors()
    seen = 0
    for unread in (0, None, 1, 7, 12, 1234):
        for user in users:
            assert navbar_html(Context({"user": user, "unread_notifications": unread})) == _real(user, unread)
            seen += 1
    anonymous = AnonymousUser()
    for _ in range(2):
        assert navbar_html(Context({"user": anonymous})) == get_template(NAVBAR).render({"user": anonymous})
    assert seen == 60
    assert None not in fragments._slotted_forms.values()  # every shape is filled in, none rendered each time
    shapes = {key[3:] for key in fragments._slotted_forms}
    assert (True, "client", False, "Client", True) in shapes and (False,) in shapes


def test_the_form_holds_no_visitors_name():
    user = ClientFactory(first_name="Unique", last_name="Visitor")
    navbar_html(Context({"user": user, "unread_notifications": 4}))
    (form,) = fragments._slotted_forms.values()
    assert form is not None and "Unique Visitor" not in form and ">4<" not in form
    assert fragments.SLOT.format("name") in form and fragments.SLOT.format("unread") in form


PRINTS_MORE = {"slotted.html": "{{ user.display_name }} <{{ user.email }}>"}
FILTERS = {"slotted.html": "{{ user.display_name|upper }}"}


@pytest.mark.parametrize("source", [PRINTS_MORE, FILTERS], ids=["prints-more", "filters-the-name"])
def test_a_template_that_prints_more_than_its_slots_is_rendered_for_each_visitor(settings, source):
    """fragments.slotted's first fill is checked against a real render: a template that prints anything of the
    visitor besides the slots (here the email, or the name upper-cased) is never filled in."""
    templates = [{**settings.TEMPLATES[0], "APP_DIRS": False, "DIRS": []}]
    templates[0]["OPTIONS"] = {
        **templates[0]["OPTIONS"],
        "loaders": [("django.template.loaders.cached.Loader", [("django.template.loaders.locmem.Loader", source)])],
    }
    with override_settings(TEMPLATES=templates):
        first, second = ClientFactory(first_name="Ada"), ClientFactory(first_name="Grace")
        for user in (first, second, first):

            def stand_in(slots):
                return {"user": {"display_name": slots["name"]}}

            html = fragments.slotted(
                "slotted.html",
                ("client",),
                {"name": fragments.printed(user.display_name)},
                stand_in=stand_in,
                real=lambda user=user: {"user": user},
            )
            assert html == get_template("slotted.html").render({"user": user})
        assert list(fragments._slotted_forms.values()) == [None]


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
