"""Error reports to Sentry from web, ws and Celery, tagged with release, environment and request id,
with personal data taken out before anything leaves the machine.

Sentry's own scrubber removes fields named like secrets (password, token, cookie...). `before_send`
goes further, over the whole event: request bodies, cookies and headers that carry credentials go;
fields that hold what people write (CV text, messages, notes, bios) go; and in every remaining
string, email addresses, card-like numbers and bearer/secret-looking tokens are masked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonEncoder

from core.http import current_request_id

FILTERED = "[Filtered]"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
TOKEN = re.compile(
    r"\b(?:Bearer\s+\S+|(?:sk|pk|rk|whsec|tok|evt)_[A-Za-z0-9_]{8,}|[A-Fa-f0-9]{40,}|eyJ[\w-]+\.[\w-]+\.[\w-]+)"
)
# Keys whose values are secrets or what a person wrote (a CV, a message, a note): never sent.
SECRET_KEYS = re.compile(r"pass|secret|token|auth|cookie|session|csrf|signature|api_?key|dsn|credential", re.I)
WRITTEN_KEYS = frozenset(
    {"body", "body_html", "text", "content", "cv", "cv_text", "cover_letter", "bio", "note", "notes", "brief"}
    | {"comment", "reply", "email", "recipients", "display_name", "first_name", "last_name", "full_name"}
)


def scrub_text(value: str) -> str:
    value = EMAIL.sub("[email]", value)
    value = TOKEN.sub("[token]", value)
    return CARD.sub("[card]", value)


def scrub(value: Any, key: str = "") -> Any:
    if key and (SECRET_KEYS.search(key) or key.lower() in WRITTEN_KEYS):
        return FILTERED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _scrub_request(request: dict) -> None:
    request.pop("cookies", None)
    request.pop("data", None)  # form posts: CV text, messages, passwords
    headers = request.get("headers") or {}
    for name in list(headers):
        if name.lower() in ("cookie", "authorization", "x-csrftoken", "stripe-signature", "test-signature"):
            headers[name] = FILTERED
    if request.get("query_string"):
        request["query_string"] = scrub_text(str(request["query_string"]))


def _drop_frame_variables(event: dict) -> None:
    """A stack frame's local variables hold whatever the code was handling: a query's parameters (a session key,
    an address), a form's cleaned data, a message being saved. None of it is sent (init() asks the SDK not to
    collect them; this also covers an event built elsewhere)."""
    for section in ("exception", "threads"):
        for value in (event.get(section) or {}).get("values") or []:
            for frame in (value.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)


def before_send(event: dict, hint: dict | None = None) -> dict:
    """Sentry's last look at an event: tag the request id, remove personal data and secrets."""
    request_id = current_request_id()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    _drop_frame_variables(event)
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return scrub(event)


def init(dsn: str, *, release: str, environment: str) -> None:
    """Called by settings when SENTRY_DSN is set; the Django, Celery and ASGI integrations come with it."""
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        release=release or None,
        environment=environment,
        send_default_pii=False,
        include_local_variables=False,  # frames' locals hold query parameters, form data, messages
        max_request_body_size="never",
        traces_sample_rate=0.0,
        before_send=before_send,  # type: ignore[arg-type]
    )


# What every LogRecord carries; anything else on a record came in through `extra=` and is printed by
# the JSON formatter as a field of its own.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Celery logs each task's arguments with "received" (extra={"data": {..., "args", "kwargs"}}): an email
# task's arguments are the whole message, address and sign-in code included. The task id and name stay.
_TASK_ARGUMENTS = ("args", "kwargs")


class PersonalDataLogFilter(logging.Filter):
    """Masks emails, card-like numbers and tokens in a log line, its traceback and its extra fields
    (LOGGING's handlers), and drops Celery's task arguments.

    Messages are ours, but what they quote is not always: an exception can echo a provider's payload
    or a visitor's input. Sentry's logging integration has seen the record already; it scrubs in before_send.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        for name in vars(record).keys() - _RECORD_FIELDS:
            setattr(record, name, _scrub_extra(name, getattr(record, name)))
        return True


def _scrub_extra(name: str, value: Any) -> Any:
    if name == "data" and isinstance(value, dict) and any(key in value for key in _TASK_ARGUMENTS):
        value = {key: FILTERED if key in _TASK_ARGUMENTS else item for key, item in value.items()}
    return scrub(value, name)  # objects stay objects (other filters read them); the JSON encoder scrubs their text


class ScrubbingJsonEncoder(JsonEncoder):
    """The JSON formatter's encoder (LOGGING): an object in a record's extra fields is printed by its
    str(), and Django's request logger passes the request, whose text holds the path and query string
    (?email=…). The filter cannot change the object: another filter reads the request id from it."""

    def default(self, o: Any) -> Any:
        encoded = super().default(o)
        return scrub_text(encoded) if isinstance(encoded, str) else encoded
