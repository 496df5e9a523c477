"""A page core.pages stores holds no masked token of the user's CSRF secret (BREACH): each is a slot, filled with a
fresh mask on every hit. The scan finds them by their shape (a run of 64 ASCII letters and digits) in C."""

import re

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import RequestFactory

from core import csrf, pages

OLD_SCAN = re.compile(r"\b[A-Za-z0-9]{64}\b")  # what the scan was: it finds no more than the new one


def _request(secret: str):
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = secret
    return request


def _tokens_left(html: str, secret: str) -> list[str]:
    """Every 64-character window of the page that is a masked token of `secret`: what BREACH could read back."""
    return [
        html[i : i + 64]
        for i in range(len(html) - 63)
        if re.fullmatch(r"[A-Za-z0-9]{64}", html[i : i + 64]) and csrf.unmasked(html[i : i + 64]) == secret
    ]


@pytest.mark.parametrize("repeat", range(20))
def test_every_masked_token_of_the_users_secret_becomes_a_slot_and_nothing_else_does(repeat):
    secret, other = _get_new_csrf_string(), _get_new_csrf_string()
    mine = [csrf.masked(secret) for _ in range(8)]
    theirs = csrf.masked(other)
    page = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{mine[0]}">'
        f'<meta content=\'{mine[1]}\'>{mine[2]}\n<script>{{"token": "{mine[3]}"}}</script>'
        f"<p>déjà{mine[4]}é</p><p>x_{mine[5]}_y</p><p>{mine[6]}</p>{mine[6]}"  # beside letters \b saw as a word's
        f"<p>{theirs}</p><p>a{mine[7]}</p><p>{mine[7]}b</p><img src='/static/app.{'f' * 64}.css'>"
    )
    stored, fresh = pages._with_slots(page, _request(secret))
    assert fresh == 0
    assert set(_tokens_left(stored, secret)) == {mine[7]}  # only glued into longer runs: no token a form posts
    for token in mine[:7]:
        assert token not in stored
    assert stored.count(pages.TOKEN_SLOT) == 8
    assert theirs in stored  # another secret's token: not this user's, left as it was
    assert f"a{mine[7]}" in stored and f"{mine[7]}b" in stored  # inside a longer run: no token there
    assert "f" * 64 in stored
    old = {t for t in OLD_SCAN.findall(page) if csrf.unmasked(t) == secret}
    assert old <= set(mine[:7])  # the old scan's tokens are slots too


def test_a_page_without_the_users_secret_is_stored_as_it_is():
    page = f"<p>{csrf.masked(_get_new_csrf_string())}</p>"
    request = RequestFactory().get("/")
    assert pages._with_slots(page, request) == (page, 0)
    assert pages._with_slots(page, _request(_get_new_csrf_string())) == (page, 0)
