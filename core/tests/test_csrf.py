"""core.csrf: Django's masked CSRF tokens made and read in fewer Python calls (issue 13), the tokens Django's
own check accepts, their masks drawn uniformly."""

import random
import string
from collections import Counter

from django.middleware import csrf as django_csrf
from django.template import RequestContext, Template
from django.test import RequestFactory

from core import csrf

ALPHABET = string.ascii_letters + string.digits


def _random(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def test_a_token_is_unmasked_as_django_checks_a_posted_token():
    rng = random.Random(13)
    for _ in range(2000):
        secret = _random(rng, django_csrf.CSRF_SECRET_LENGTH)
        token = django_csrf._mask_cipher_secret(secret)
        word = _random(rng, django_csrf.CSRF_TOKEN_LENGTH)  # a 64-character word of no one's
        assert csrf.unmasked(token) == secret == django_csrf._unmask_cipher_token(token)
        assert csrf.unmasked(word) == django_csrf._unmask_cipher_token(word)
    for edge in ("a" * 64, "9" * 64, "A" * 32 + "9" * 32, "9" * 32 + "a" * 32):
        assert csrf.unmasked(edge) == django_csrf._unmask_cipher_token(edge)


def test_a_masked_secret_is_a_token_django_accepts_for_it_and_only_for_it():
    rng = random.Random(14)
    for secret in ["a" * 32, "9" * 32, *(_random(rng, django_csrf.CSRF_SECRET_LENGTH) for _ in range(2000))]:
        token = csrf.masked(secret)
        django_csrf._check_token_format(token)  # raises on a bad length or character
        assert django_csrf._unmask_cipher_token(token) == secret and django_csrf._does_token_match(token, secret)
        assert not django_csrf._does_token_match(token, _random(rng, django_csrf.CSRF_SECRET_LENGTH))


def test_masks_are_new_each_time_and_drawn_uniformly():
    masks = [csrf.masked("x" * 32)[:32] for _ in range(4000)]
    assert len(set(masks)) == len(masks)
    counts = Counter("".join(masks))  # 128,000 characters: ~2,065 of each of the 62
    assert set(counts) == set(ALPHABET)
    assert all(1800 < n < 2330 for n in counts.values()), sorted(counts.values())[:3] + sorted(counts.values())[-3:]


def test_get_token_renews_the_cookie_of_a_request_that_has_one_and_makes_one_otherwise():
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = "s" * 32
    assert django_csrf._does_token_match(csrf.get_token(request), "s" * 32)
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    first = RequestFactory().get("/")
    token = csrf.get_token(first)
    assert first.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert django_csrf._does_token_match(token, first.META["CSRF_COOKIE"])


def test_a_pages_csrf_token_tag_prints_core_csrfs_token_once_per_render(monkeypatch):
    """The settings' processor replaces Django's built-in one: a page's {% csrf_token %} tags print one token,
    made by core.csrf (Django's masking is never asked)."""

    def refused(secret):
        raise AssertionError("Django's own masking ran")

    monkeypatch.setattr(django_csrf, "_mask_cipher_secret", refused)
    request = RequestFactory().get("/")
    request.META["CSRF_COOKIE"] = "k" * 32
    html = Template("{% csrf_token %}|{% csrf_token %}|{{ csrf_token }}").render(RequestContext(request, {}))
    tokens = [part.split('value="')[-1].rstrip('">') for part in html.split("|")]
    assert len(set(tokens)) == 1 and django_csrf._does_token_match(tokens[0], "k" * 32)
