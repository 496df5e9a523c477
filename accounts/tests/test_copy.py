"""Labels read in sentence case everywhere, allauth's pages included."""

import pytest


@pytest.mark.django_db
def test_login_says_remember_me_in_sentence_case(client):
    html = client.get("/accounts/login/").content.decode()
    assert "Remember me" in html and "Remember Me" not in html


@pytest.mark.django_db
def test_password_change_labels_are_sentence_case(client, client_user):
    client.force_login(client_user)
    html = client.get("/accounts/password/change/").content.decode()
    assert "Current password" in html and "New password" in html and "New password (again)" in html
    assert "New Password" not in html and "Current Password" not in html
