"""Helpers for API tests of every app: log a user in through the real endpoint and call with their token."""

from __future__ import annotations

from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD

API = "/api/v1/"


def tokens_for(user, password: str = DEFAULT_PASSWORD) -> dict:
    response = APIClient().post(f"{API}auth/login", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def client_for(user=None) -> APIClient:
    """An APIClient carrying `user`'s Bearer token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for(user)['access']}")
    return client


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """The one error shape, with the expected status (and code)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"type", "code", "detail", "fields", "status"}, body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body
