"""The unsubscribe link in every notification email: signed, one click, no login, and clear when it is bad."""

import re

import pytest
from django.core import mail, signing
from django.urls import reverse

from audit.models import AuditLog
from notifications import services
from notifications.models import EmailPreference

pytestmark = pytest.mark.django_db


def _email(capture, user, kind):
    with capture(execute=True):
        services.notify(user, kind, "Something happened", link="/orders/")
    return mail.outbox[-1]


def _link(message) -> str:
    found = re.search(r"https?://[^\s\"<>]+/notifications/unsubscribe/[^\s\"<>]+/", message.body)
    assert found, "no unsubscribe link in the text body"
    return found.group(0)


def _path(url: str) -> str:
    return url[url.index("/notifications/") :]


def test_every_notification_email_carries_a_signed_link_and_one_click_headers(
    client_user, django_capture_on_commit_callbacks
):
    message = _email(django_capture_on_commit_callbacks, client_user, "order_deliver")

    url = _link(message)
    html = message.alternatives[0][0]
    assert url in html and "Unsubscribe from emails about deliveries" in html
    assert "emails about deliveries are on" in message.body
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.message()["List-Unsubscribe"] == f"<{url}>"  # really in the sent headers


def test_get_asks_first_and_changes_nothing(client, client_user, django_capture_on_commit_callbacks):
    path = _path(_link(_email(django_capture_on_commit_callbacks, client_user, "order_deliver")))

    response = client.get(path)

    html = response.content.decode()
    assert response.status_code == 200 and "Unsubscribe from emails about deliveries?" in html
    assert client_user.email not in html  # the link may have been forwarded: only a masked address
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "no-referrer"
    assert services.email_preferences(client_user)["delivery"] is True


def test_the_confirm_button_unsubscribes_without_login_or_csrf_cookie(
    csrf_client, client_user, django_capture_on_commit_callbacks
):
    path = _path(_link(_email(django_capture_on_commit_callbacks, client_user, "order_deliver")))

    response = csrf_client.post(path)

    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    assert services.email_preferences(client_user)["delivery"] is False
    assert csrf_client.post(path).status_code == 200  # a second click: still fine, nothing more written
    assert AuditLog.objects.filter(action="notifications.email_preferences").count() == 1
    # ...and the next delivery email is not sent, while the inbox row is.
    before = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(client_user, "order_deliver", "Delivered again")
    assert len(mail.outbox) == before


def test_a_mail_apps_one_click_post_unsubscribes(client, client_user, django_capture_on_commit_callbacks):
    path = _path(_link(_email(django_capture_on_commit_callbacks, client_user, "request_accepted")))

    response = client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert services.email_preferences(client_user)["request"] is False
    assert services.email_preferences(client_user)["delivery"] is True


def test_a_money_email_links_to_stopping_all_optional_emails_and_has_no_headers(
    client, client_user, django_capture_on_commit_callbacks
):
    message = _email(django_capture_on_commit_callbacks, client_user, "payment_refunded")

    assert "List-Unsubscribe" not in message.extra_headers
    assert "always sent" in message.body
    path = _path(_link(message))
    assert "Unsubscribe from optional emails?" in client.get(path).content.decode()
    client.post(path)
    assert services.email_preferences(client_user) == {
        "money": True,
        "request": False,
        "delivery": False,
        "message": False,
        "dispute": False,
    }


def _tampered(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda user: _tampered(services.unsubscribe_token(user, "delivery")), id="tampered signature"),
        pytest.param(lambda user: services.unsubscribe_token(user, "delivery")[:-6], id="truncated"),
        pytest.param(lambda user: "not-a-token", id="garbage"),
        pytest.param(lambda user: signing.dumps({"u": user.pk, "s": "delivery"}), id="another salt"),
        pytest.param(
            lambda user: signing.TimestampSigner(salt=services.UNSUBSCRIBE_SALT).sign_object(
                {"u": user.pk, "s": "money"}
            ),
            id="a scope that cannot be switched off",
        ),
        pytest.param(
            lambda user: signing.TimestampSigner(salt=services.UNSUBSCRIBE_SALT).sign_object(
                {"u": 10**9, "s": "delivery"}
            ),
            id="no such account",
        ),
        pytest.param(
            lambda user: signing.TimestampSigner(salt=services.UNSUBSCRIBE_SALT).sign_object(["delivery"]),
            id="a payload of the wrong shape",
        ),
        pytest.param(
            lambda user: signing.TimestampSigner(salt=services.UNSUBSCRIBE_SALT).sign_object(
                {"u": str(user.pk), "s": "delivery"}
            ),
            id="a user id that is not a number",
        ),
    ],
)
def test_a_bad_token_is_a_clear_400_that_changes_nothing(client, client_user, make):
    token = make(client_user)
    path = reverse("notifications:unsubscribe", args=[token])

    for response in (
        client.get(path),
        client.post(path),
        client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"),
    ):
        assert response.status_code == 400
        assert "This unsubscribe link is not valid" in response.content.decode()

    assert not EmailPreference.objects.exists()


def test_an_expired_token_says_so(client, client_user, settings, monkeypatch):
    settings.NOTIFICATION_UNSUBSCRIBE_DAYS = 90
    real = signing.time.time
    with monkeypatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: real() - 91 * 86400)
        token = services.unsubscribe_token(client_user, "delivery")

    response = client.post(reverse("notifications:unsubscribe", args=[token]))

    assert response.status_code == 400 and "expired" in response.content.decode()
    assert services.email_preferences(client_user)["delivery"] is True


def test_only_get_and_post(client, client_user):
    path = reverse("notifications:unsubscribe", args=[services.unsubscribe_token(client_user, "delivery")])

    assert client.put(path).status_code == 405
    assert client.delete(path).status_code == 405
