"""Django's masked CSRF tokens (django.middleware.csrf), made and read in fewer Python calls (issue 13).

Every signed-in page prints a token masked anew for that response (BREACH): Django's get_token draws the 32
characters of the mask one `secrets.choice` at a time and adds the secret to it character by character in
generator expressions, ~490 Python calls a token, on every page a cached page's hit or miss serves; core.pages
also reads back every 64-character word of a page it stores to find the user's tokens (~170 calls each). The
same arithmetic over map() and one read of os.urandom per mask is ~15 calls. The token is the one Django makes:
a mask of CSRF_SECRET_LENGTH characters drawn uniformly from CSRF_ALLOWED_CHARS (a byte is kept when it falls
below the largest multiple of their number, then taken modulo it), then the secret shifted by the mask.
"""

from __future__ import annotations

import operator
import os
from itertools import repeat

from django.http import HttpRequest
from django.middleware import csrf
from django.utils.functional import SimpleLazyObject

_LENGTH: int = csrf.CSRF_SECRET_LENGTH
_CHARS: str = csrf.CSRF_ALLOWED_CHARS
_KEPT_BELOW = 256 - 256 % len(_CHARS)  # bytes at or above it would make the first characters likelier


def _new_mask() -> str:
    """get_random_string(CSRF_SECRET_LENGTH, CSRF_ALLOWED_CHARS), as Django draws a mask: uniform, from the OS."""
    drawn: list[int] = []
    while len(drawn) < _LENGTH:  # 1.5× the bytes needed: a second read is about as likely as none kept at all
        drawn += [byte % len(_CHARS) for byte in os.urandom(_LENGTH + _LENGTH // 2) if byte < _KEPT_BELOW]
    return "".join(map(_CHARS.__getitem__, drawn[:_LENGTH]))


def masked(secret: str) -> str:
    """csrf._mask_cipher_secret(secret): a new mask, then each secret character shifted by the mask's."""
    mask = _new_mask()
    index = _CHARS.index
    sums = map(operator.add, map(index, secret), map(index, mask))
    # (x + y) % len(_CHARS) as an index: x + y - len(_CHARS) wraps below zero as the modulo would
    return mask + "".join(map(_CHARS.__getitem__, map(operator.sub, sums, repeat(len(_CHARS)))))


def unmasked(token: str) -> str:
    """csrf._unmask_cipher_token(token), how Django checks a posted token: the secret the token was masked from."""
    index = _CHARS.index
    differences = map(operator.sub, map(index, token[_LENGTH:]), map(index, token[:_LENGTH]))
    return "".join(map(_CHARS.__getitem__, differences))  # a negative index wraps as Django's does


def get_token(request: HttpRequest) -> str:
    """csrf.get_token(request): the request's secret (a new one, and its cookie, when it has none yet; the
    cookie's expiry renewed otherwise), masked anew."""
    if "CSRF_COOKIE" in request.META:
        secret = request.META["CSRF_COOKIE"]
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # as Django: the cookie is sent again, its expiry renewed
        return masked(secret)
    return csrf.get_token(request)  # Django makes the secret and sets the cookie (a first visit)


def context(request: HttpRequest) -> dict:
    """settings.TEMPLATES' context processor after Django's built-in csrf one, whose csrf_token it replaces:
    the same token, made by get_token above (lazily: a page without a form never makes one)."""
    return {"csrf_token": SimpleLazyObject(lambda: get_token(request))}
