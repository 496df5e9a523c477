"""core.writes prepares a write's values as Django's `get_db_prep_save` does, skipping Django's calls only for
a value the field returns unchanged (issue 13: a webhook delivery prepares ~60 values). Checked against
Django itself for every field of every installed model, on the database the tests run on."""

from __future__ import annotations

import datetime
import warnings
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from core import writes
from payments.models import WebhookEvent, WebhookStatus

AWARE = datetime.datetime(2026, 12, 3, 14, 0, tzinfo=datetime.UTC)
SAMPLES = [
    None,
    "",
    "text",
    WebhookStatus.PROCESSED,  # a TextChoices member: a str subclass
    True,
    False,
    0,
    7,
    Decimal("1.50"),
    AWARE,
    timezone.now(),
    datetime.datetime(2026, 12, 3, 14, 0),  # naive: Django makes it aware (and warns)
    datetime.date(2026, 12, 3),
    {"a": 1},
    [1, 2],
]


# What a field raises for a value it refuses.
REFUSED = (TypeError, ValueError, ArithmeticError, AttributeError, ValidationError)


def _comparable(prepared: object) -> tuple[type, object]:
    """The type and value of a prepared value; a psycopg wrapper (Jsonb) by what it wraps (it has no ==)."""
    return type(prepared), getattr(prepared, "obj", prepared)


def _every_field() -> list[Field]:
    return [field for model in apps.get_models() for field in model._meta.concrete_fields]


def _django(field: Field, value: object) -> tuple[bool, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return True, field.get_db_prep_save(value, connection)
        except REFUSED as error:  # a value this field refuses: ours must refuse it too
            return False, type(error)


def _ours(field: Field, value: object) -> tuple[bool, object]:
    mode = writes._kept_as_is(field, connection)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return True, writes._prepared(field, mode, value, connection)
        except REFUSED as error:
            return False, type(error)


@pytest.mark.django_db
def test_every_field_prepares_every_sample_as_django_does():
    checked = 0
    for field in _every_field():
        for value in SAMPLES:
            expected, got = _django(field, value), _ours(field, value)
            assert got[0] == expected[0], (field, value)
            assert _comparable(got[1]) == _comparable(expected[1]), (field, value, got, expected)
            checked += 1
    assert checked > 1000  # every installed app's fields, not an empty loop


@pytest.mark.django_db
def test_a_kept_value_is_the_same_object_and_a_naive_datetime_still_goes_through_django():
    field = WebhookEvent._meta.get_field("processed_at")
    mode = writes._kept_as_is(field, connection)
    if connection.vendor == "postgresql":
        assert mode == writes.AWARE_DATETIME
        assert writes._prepared(field, mode, AWARE, connection) is AWARE
    naive = datetime.datetime(2026, 12, 3, 14, 0)
    with pytest.warns(RuntimeWarning, match="naive datetime"):
        writes._prepared(field, mode, naive, connection)
    assert writes._kept_as_is(WebhookEvent._meta.get_field("status"), connection) == writes.TEXT
    assert writes._kept_as_is(WebhookEvent._meta.get_field("attempts"), connection) == writes.GENERIC


@pytest.mark.django_db
def test_the_receipt_s_text_and_time_values_are_not_prepared_one_call_chain_each():
    """The webhook's receipt write: status, error and processed_at need none of Django's calls; attempts (an
    int, which psycopg's backend wraps) and the payment id still go through Django."""
    calls: list[str] = []
    real = Field.get_db_prep_save

    def counted(self, value, connection):
        calls.append(self.name)
        return real(self, value, connection)

    writes._fields.cache_clear()
    with patch.object(Field, "get_db_prep_save", counted):
        write = writes.update(
            "receipt",
            WebhookEvent,
            1,
            {"status": WebhookStatus.PROCESSED, "error": "", "attempts": 1, "payment": 5, "processed_at": AWARE},
            after="guard",
        )
    writes._fields.cache_clear()
    prepared_by_django = {"attempts", "id"} if connection.vendor == "postgresql" else {"attempts", "id", "processed_at"}
    assert set(calls) == prepared_by_django  # "id": the foreign key's target field, for the payment's id
    assert write.params[:3] == [WebhookStatus.PROCESSED, "", write.params[2]]
    assert write.params[0] is WebhookStatus.PROCESSED
