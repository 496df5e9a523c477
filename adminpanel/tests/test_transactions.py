"""The ledger page: filters, totals of the filtered set, pagination and the streamed CSV export."""

import csv
import datetime as dt
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from coaches.tests.factories import CoachProfileFactory
from orders.tests.factories import make_order
from payments.models import LedgerEntry, Payment

from .helpers import ledger_entry

URL = "/staff/transactions/"


def _payment(order, provider, amount):
    return Payment.objects.create(
        order=order,
        client=order.client,
        provider=provider,
        provider_payment_id=f"{provider}-{order.pk}",
        amount_minor=amount,
        currency=order.currency,
        status="captured",
    )


def _entry(kind, order, payment, gross, fee, day, note=""):
    when = timezone.make_aware(dt.datetime(2026, 3, day, 12))
    return ledger_entry(kind, order, gross, fee, when, payment=payment, note=note)


@pytest.fixture
def ledger(client_user, coach_user):
    other_coach = CoachProfileFactory(user__email="zed.coach@example.com").user
    o1 = make_order(client=client_user, coach=coach_user)
    o2 = make_order(client=client_user, coach=other_coach)
    p1 = _payment(o1, "stripe", 12000)
    p2 = _payment(o2, "paypal", 12000)
    return {
        "o1": o1,
        "o2": o2,
        "other_coach": other_coach,
        "c1": _entry("charge", o1, p1, 12000, 2400, 2),
        "r1": _entry("refund", o1, p1, -3000, -600, 4, note='=HYPERLINK("http://evil")'),
        "c2": _entry("charge", o2, p2, 12000, 2400, 3),
        "p2": _entry("payout", o2, p2, 9600, 0, 6),
    }


def _ids(response):
    return {entry.pk for entry in response.context["page"].object_list}


def test_lists_every_entry_with_totals(staff_client, ledger):
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert _ids(response) == {ledger[k].pk for k in ("c1", "r1", "c2", "p2")}
    (totals,) = response.context["totals"]
    # Charges 2 × £120 less a £30 refund: £210 received, £42 of it fees and £168 the coaches'; £96 paid out.
    assert totals == {
        "currency": "GBP",
        "entries": 4,
        "charged": 24000,
        "refunded": -3000,
        "net": 21000,
        "fees": 4200,
        "coach_share": 16800,
        "paid_out": 9600,
        "held": 7200,
    }
    html = response.content.decode()
    assert all(shown in html for shown in ("£240.00", "-£30.00", "£210.00", "£42.00", "£168.00", "£96.00", "£72.00"))


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"entry_type": "charge"}, {"c1", "c2"}),
        ({"entry_type": "refund"}, {"r1"}),
        ({"provider": "paypal"}, {"c2", "p2"}),
        ({"start": "2026-03-03", "end": "2026-03-04"}, {"r1", "c2"}),
        ({"start": "2026-03-05"}, {"p2"}),
        ({"coach": "zed.coach"}, {"c2", "p2"}),
        ({"order": "o1"}, {"c1", "r1"}),
        ({"entry_type": "charge", "provider": "stripe"}, {"c1"}),
    ],
)
def test_filters(staff_client, ledger, params, expected):
    if params.get("order") == "o1":
        params = {"order": ledger["o1"].pk}
    response = staff_client.get(URL, params)
    assert response.status_code == 200
    assert _ids(response) == {ledger[k].pk for k in expected}


def test_filter_by_coach_id_and_totals_follow_the_filter(staff_client, ledger):
    response = staff_client.get(URL, {"coach": ledger["other_coach"].pk})
    assert _ids(response) == {ledger["c2"].pk, ledger["p2"].pk}
    (totals,) = response.context["totals"]
    assert (totals["net"], totals["fees"], totals["coach_share"], totals["paid_out"], totals["held"]) == (
        12000,
        2400,
        9600,
        9600,
        0,
    )


@pytest.mark.parametrize(
    "params", [{"start": "2026-03-05", "end": "2026-03-01"}, {"entry_type": "bogus"}, {"order": "abc"}, {"start": "x"}]
)
def test_bad_filters_answer_400_with_the_form_errors_and_no_rows(staff_client, ledger, params):
    response = staff_client.get(URL, params)
    assert response.status_code == 400
    assert _ids(response) == set()
    assert response.context["form"].errors
    csv_response = staff_client.get(URL, {**params, "format": "csv"})
    assert csv_response.status_code == 400
    assert b"Bad filter" in csv_response.content


def test_paginates_50_per_page_with_bounded_queries(staff_client, ledger, django_assert_max_num_queries):
    o1, p1 = ledger["o1"], ledger["c1"].payment
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                entry_type="charge",
                order=o1,
                payment=p1,
                coach=o1.coach,
                gross_minor=100,
                fee_minor=20,
                payout_minor=80,
                currency="GBP",
                idempotency_key=f"bulk-{i}",
            )
            for i in range(120)
        ]
    )
    with django_assert_max_num_queries(8):
        first = staff_client.get(URL)
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].paginator.num_pages == 3
    last = staff_client.get(URL, {"page": 3})
    assert len(last.context["page"].object_list) == 24


def test_csv_export_streams_the_filtered_entries(staff_client, ledger):
    response = staff_client.get(URL, {"format": "csv", "coach": ledger["o1"].coach.email})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="transactions-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "id",
        "date (UTC)",
        "type",
        "order",
        "order title",
        "coach",
        "provider",
        "provider payment id",
        "gross",
        "platform fee",
        "coach payout",
        "currency",
        "note",
    ]
    o1 = ledger["o1"]
    assert rows[1] == [
        str(ledger["c1"].pk),
        "2026-03-02 12:00:00",
        "charge",
        str(o1.pk),
        o1.title,
        o1.coach.email,
        "stripe",
        f"stripe-{o1.pk}",
        "120.00",
        "24.00",
        "96.00",
        "GBP",
        "",
    ]
    refund = rows[2]
    assert refund[2] == "refund" and refund[8:11] == ["-30.00", "-6.00", "-24.00"]
    # A formula in free text is neutralised so a spreadsheet shows it as text.
    assert refund[12] == '\'=HYPERLINK("http://evil")'
    assert len(rows) == 3


def test_csv_export_of_everything_with_the_page_link(staff_client, ledger):
    page = staff_client.get(URL, {"provider": "paypal"})
    assert "provider=paypal&amp;format=csv" in page.content.decode()
    response = staff_client.get(URL, {"provider": "paypal", "format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[2] for row in rows[1:]] == ["charge", "payout"]


def test_csv_rows_come_from_a_database_iterator(staff_client, ledger, monkeypatch):
    """The export walks the rows with QuerySet.iterator() (no full list in memory)."""
    from django.db.models.query import QuerySet

    calls = []
    original = QuerySet.iterator

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("chunk_size"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    response = staff_client.get(URL, {"format": "csv"})
    b"".join(response.streaming_content)
    assert calls == [2000]


def test_staff_can_reach_it_from_the_navigation(staff_client, ledger):
    html = staff_client.get(reverse("adminpanel:analytics")).content.decode()
    assert 'href="/staff/transactions/"' in html
