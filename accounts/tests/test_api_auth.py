"""API auth: login rules shared with the pages, rotation and reuse detection, token_version, bad tokens."""

import base64
import datetime
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiRefreshToken, User
from accounts.tests.conftest import links_in
from accounts.tests.factories import DEFAULT_PASSWORD
from audit.models import AuditLog
from core.tests.api import API, assert_problem, client_for, tokens_for

pytestmark = pytest.mark.django_db

LOGIN, REFRESH, LOGOUT, ME = f"{API}auth/login", f"{API}auth/refresh-token", f"{API}auth/logout", f"{API}users/me"


def post(path, data, client=None):
    return (client or APIClient()).post(path, data, format="json")


def me(access: str):
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")


def claims(access: str) -> dict:
    return jwt.decode(access, options={"verify_signature": False})


# --- login ---------------------------------------------------------------------------------------


def test_login_returns_a_pair_whose_access_token_carries_the_claims(client_user):
    pair = tokens_for(client_user)
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 15 * 60
    body = claims(pair["access"])
    assert body["sub"] == str(client_user.pk)
    assert body["role"] == "client"
    assert body["email_verified"] is True
    assert body["token_version"] == client_user.token_version
    assert body["exp"] - body["iat"] == 15 * 60
    assert me(pair["access"]).json()["email"] == client_user.email


def test_login_is_case_insensitive_like_the_page(client_user):
    response = post(LOGIN, {"email": client_user.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(client_user):
    unknown = post(LOGIN, {"email": "nobody@example.com", "password": "whatever-pass-1"})
    wrong = post(LOGIN, {"email": client_user.email, "password": "whatever-pass-1"})
    assert assert_problem(unknown, 401, "invalid_credentials") == assert_problem(wrong, 401, "invalid_credentials")
    assert unknown["WWW-Authenticate"].startswith("Bearer")


def test_five_failures_lock_the_email_like_the_page_even_for_the_right_password(client_user):
    for _ in range(5):
        post(LOGIN, {"email": client_user.email, "password": "not-my-password"})
    response = post(LOGIN, {"email": client_user.email, "password": DEFAULT_PASSWORD})
    assert_problem(response, 429, "throttled")
    assert response["Retry-After"] == str(15 * 60)
    # the page shares the counter: the same email is locked there too
    page = Client().post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert page.status_code == 200 and "_auth_user_id" not in page.client.session


def test_suspended_user_cannot_log_in(client_user, staff_user):
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")
    body = assert_problem(post(LOGIN, {"email": client_user.email, "password": DEFAULT_PASSWORD}), 403)
    assert "suspended" in body["detail"]


def test_unknown_and_missing_fields_are_400_naming_them(client_user):
    body = assert_problem(post(LOGIN, {"email": client_user.email, "pasword": "x"}), 400, "invalid")
    assert set(body["fields"]) == {"pasword"}
    body = assert_problem(post(LOGIN, {"email": "not-an-email", "password": "x"}), 400)
    assert "email" in body["fields"]


# --- refresh rotation and reuse ---------------------------------------------------------------------


def test_refresh_tokens_are_stored_only_as_their_hash(client_user):
    pair = tokens_for(client_user)
    row = ApiRefreshToken.objects.get(user=client_user)
    assert row.token_hash == hashlib.sha256(pair["refresh"].encode()).hexdigest()
    assert not ApiRefreshToken.objects.filter(token_hash=pair["refresh"]).exists()
    lifetime = row.expires_at - row.created_at
    assert abs(lifetime - datetime.timedelta(days=settings.API_REFRESH_TOKEN_DAYS)) < datetime.timedelta(seconds=5)


def test_refresh_rotates_on_every_use(client_user):
    first = tokens_for(client_user)
    second = post(REFRESH, {"refresh": first["refresh"]}).json()
    assert second["refresh"] != first["refresh"]
    assert me(second["access"]).status_code == 200
    third = post(REFRESH, {"refresh": second["refresh"]})
    assert third.status_code == 200
    assert ApiRefreshToken.objects.filter(user=client_user).values("family").distinct().count() == 1


def test_a_reused_refresh_token_revokes_the_family_and_every_other_login(client_user):
    phone = tokens_for(client_user)
    laptop = tokens_for(client_user)
    rotated = post(REFRESH, {"refresh": phone["refresh"]}).json()

    assert_problem(post(REFRESH, {"refresh": phone["refresh"]}), 401)  # the stolen copy

    assert_problem(post(REFRESH, {"refresh": rotated["refresh"]}), 401)
    assert_problem(post(REFRESH, {"refresh": laptop["refresh"]}), 401)
    assert_problem(me(rotated["access"]), 401)
    assert not ApiRefreshToken.objects.filter(user=client_user, revoked_at=None).exists()
    assert AuditLog.objects.filter(action="api.refresh_token_reused", target_id=str(client_user.pk)).exists()


def test_expired_unknown_and_missing_refresh_tokens_are_refused(client_user):
    pair = tokens_for(client_user)
    ApiRefreshToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert_problem(post(REFRESH, {"refresh": pair["refresh"]}), 401)
    assert_problem(post(REFRESH, {"refresh": "made-up"}), 401)
    assert set(assert_problem(post(REFRESH, {}), 400)["fields"]) == {"refresh"}


def test_logout_ends_this_device_only(client_user):
    phone, laptop = tokens_for(client_user), tokens_for(client_user)
    assert post(LOGOUT, {"refresh": phone["refresh"]}).status_code == 204
    assert_problem(post(REFRESH, {"refresh": phone["refresh"]}), 401)
    assert post(REFRESH, {"refresh": laptop["refresh"]}).status_code == 200


# --- token_version ------------------------------------------------------------------------------------


def test_log_out_everywhere_ends_tokens_and_browser_sessions(client_user):
    browser = Client()
    browser.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    phone, laptop = tokens_for(client_user), tokens_for(client_user)
    assert post(LOGOUT, {"refresh": phone["refresh"], "everywhere": True}).status_code == 204
    assert_problem(me(laptop["access"]), 401)
    assert_problem(post(REFRESH, {"refresh": laptop["refresh"]}), 401)
    assert browser.get("/dashboard/").status_code == 302


def test_a_password_change_refuses_older_tokens_at_once(client_user):
    pair = tokens_for(client_user)
    client_user.set_password("a-brand-new-passphrase-9")
    client_user.save()
    assert_problem(me(pair["access"]), 401, "token_not_valid")
    assert_problem(post(REFRESH, {"refresh": pair["refresh"]}), 401)
    assert me(tokens_for(client_user, "a-brand-new-passphrase-9")["access"]).status_code == 200


def test_a_stale_copy_of_the_user_cannot_write_the_old_token_version_back(client_user):
    stale = type(client_user).objects.get(pk=client_user.pk)
    pair = tokens_for(client_user)
    services.end_api_tokens(client_user)
    stale.first_name = "Renamed"
    stale.save()
    assert_problem(me(pair["access"]), 401)


def test_suspension_refuses_the_tokens_already_issued(client_user, staff_user):
    pair = tokens_for(client_user)
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")
    assert_problem(me(pair["access"]), 401)
    assert_problem(post(REFRESH, {"refresh": pair["refresh"]}), 401)


# --- bad access tokens ----------------------------------------------------------------------------------


def _forge(payload: dict, key, algorithm: str, headers=None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@pytest.fixture
def good_claims(client_user):
    return claims(tokens_for(client_user)["access"])


def test_expired_access_token_is_401(good_claims):
    good_claims["exp"] = int(timezone.now().timestamp()) - 5
    assert_problem(me(_forge(good_claims, settings.API_JWT_SIGNING_KEY, "HS256")), 401, "token_not_valid")


def test_tampered_access_token_is_401(client_user, other_client, good_claims):
    good_claims["sub"] = str(other_client.pk)
    forged = _forge(good_claims, "a-guessed-key-that-is-long-enough-for-hs256!", "HS256")
    assert_problem(me(forged), 401)
    header, payload, signature = tokens_for(client_user)["access"].split(".")
    assert_problem(me(f"{header}.{payload}.{signature[:-4]}AAAA"), 401)


def test_alg_none_is_401(good_claims):
    unsigned = _forge(good_claims, None, "none")
    assert_problem(me(unsigned), 401)


def test_rs_hs_confusion_is_401(good_claims):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_problem(me(_forge(good_claims, private, "RS256")), 401)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The classic confusion: an HS256 token "signed" with the public key of an RS256 verifier.
    header = base64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = base64url(json.dumps(good_claims).encode())
    signature = base64url(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_problem(me(f"{header}.{payload}.{signature}"), 401)


def base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_for_a_deleted_user_is_401(good_claims, client_user):
    client_user.delete()
    assert_problem(me(_forge(good_claims, settings.API_JWT_SIGNING_KEY, "HS256")), 401)


# --- cookie and session modes -------------------------------------------------------------------------


def test_cookie_mode_sets_http_only_cookies_and_enforces_csrf(client_user):
    browser = APIClient(enforce_csrf_checks=True)
    response = browser.post(
        LOGIN, {"email": client_user.email, "password": DEFAULT_PASSWORD, "cookie": True}, format="json"
    )
    assert response.status_code == 200 and "access" not in response.json()
    access = response.cookies[settings.API_ACCESS_COOKIE]
    assert access["httponly"] and access["secure"] and access["samesite"] == "Strict"
    assert response.cookies[settings.API_REFRESH_COOKIE]["httponly"]
    assert browser.get(ME).status_code == 200

    assert_problem(browser.patch(ME, {"first_name": "Ada"}, format="json"), 403)
    csrf = browser.cookies["csrftoken"].value
    assert browser.patch(ME, {"first_name": "Ada"}, format="json", HTTP_X_CSRFTOKEN=csrf).status_code == 200

    rotated = browser.post(REFRESH, {}, format="json")
    assert rotated.status_code == 200 and rotated.json()["token_type"] == "cookie"


def test_a_logged_in_browser_session_may_call_the_api(client_user):
    browser = Client()
    browser.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert browser.get(ME).json()["id"] == client_user.pk


def test_anonymous_is_401_in_the_error_shape():
    response = APIClient().get(ME)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


# --- register, verify, reset ---------------------------------------------------------------------------


REGISTER = f"{API}auth/register"


def _signup(email, role="coach", **extra):
    data = {"email": email, "password": "a-long-unusual-passphrase-77", "first_name": "Ada", "last_name": "Byron"}
    return post(REGISTER, {**data, "role": role, **extra})


def test_register_answers_alike_for_new_and_registered_emails(client_user, mailoutbox):
    new = _signup("new.coach@example.com")
    taken = _signup(client_user.email)
    assert new.status_code == taken.status_code == 202
    assert new.json() == taken.json()
    assert type(client_user).objects.get(email="new.coach@example.com").role == "coach"
    assert [m.to for m in mailoutbox] == [["new.coach@example.com"], [client_user.email]]


def test_register_refuses_the_staff_role_and_unknown_fields():
    assert "role" in assert_problem(_signup("x@example.com", role="admin"), 400)["fields"]
    assert set(assert_problem(_signup("x@example.com", is_staff=True), 400)["fields"]) == {"is_staff"}


def test_verify_email_with_the_key_from_the_mail(mailoutbox):
    _signup("fresh@example.com", role="client")
    key = links_in(mailoutbox[0], "/confirm-email/")[0].rstrip("/").rsplit("/", 1)[1]
    assert post(f"{API}auth/verify-email", {"key": key}).status_code == 200
    user = User.objects.get(email="fresh@example.com")
    assert user.has_verified_email
    assert "key" in assert_problem(post(f"{API}auth/verify-email", {"key": "nonsense"}), 400)["fields"]


def test_forgot_and_reset_password_end_older_tokens(client_user, mailoutbox):
    old = tokens_for(client_user)
    unknown = post(f"{API}auth/forgot-password", {"email": "nobody@example.com"})
    known = post(f"{API}auth/forgot-password", {"email": client_user.email})
    assert unknown.status_code == known.status_code == 202 and unknown.json() == known.json()
    link = links_in(mailoutbox[-1], "/password/reset/key/")[0]
    key = link.rstrip("/").rsplit("/", 1)[1]
    response = post(f"{API}auth/reset-password", {"key": key, "password": "a-fresh-passphrase-31"})
    assert response.status_code == 200
    assert_problem(me(old["access"]), 401)
    assert tokens_for(client_user, "a-fresh-passphrase-31")["access"]
    assert (
        "key"
        in assert_problem(post(f"{API}auth/reset-password", {"key": key, "password": "another-one-77x"}), 400)["fields"]
    )


# --- users/me ----------------------------------------------------------------------------------------


def test_me_patch_changes_names_and_validates_like_the_page(client_user):
    api = client_for(client_user)
    response = api.patch(ME, {"first_name": "Grace", "phone": "+44 20 7946 0958"}, format="json")
    assert response.status_code == 200 and response.json()["first_name"] == "Grace"
    client_user.refresh_from_db()
    assert client_user.phone == "+44 20 7946 0958"
    assert "phone" in assert_problem(api.patch(ME, {"phone": "call me"}, format="json"), 400)["fields"]
    assert set(assert_problem(api.patch(ME, {"role": "admin"}, format="json"), 400)["fields"]) == {"role"}
    assert "first_name" in assert_problem(api.patch(ME, {"first_name": "x" * 151}, format="json"), 400)["fields"]


def test_a_json_body_over_the_limit_is_413(client_user, settings):
    settings.API_MAX_JSON_BYTES = 1024
    response = client_for(client_user).patch(ME, {"first_name": "x" * 2000}, format="json")
    assert_problem(response, 413, "too_large")


def test_a_body_in_another_format_is_415(client_user):
    response = client_for(client_user).generic("PATCH", ME, "first_name=Ada", content_type="text/plain")
    assert_problem(response, 415)
