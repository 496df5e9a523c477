"""The webhook event table's indexes: each one is written twice per delivery (INSERT, then the status UPDATE)."""

import pytest
from django.db import connection

from payments.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="varchar_pattern_ops copies are PostgreSQL's")
def test_the_webhook_event_table_has_no_index_that_nothing_reads():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [WebhookEvent._meta.db_table])
        definitions = [row[0] for row in cursor.fetchall()]
    assert not [d for d in definitions if "pattern_ops" in d], definitions
    indexed = sorted(d.split("(", 1)[1].rstrip(")") for d in definitions)
    assert indexed == ["event_type", "id", "payment_id", "provider, event_id", "received_at", "status"], definitions
