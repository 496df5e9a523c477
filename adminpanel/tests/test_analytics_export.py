"""CSV copies of each analytics table: the page's figures for the same filters, safe in a spreadsheet."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.tests.factories import ClientFactory

from .test_analytics import march  # noqa: F401 - the fixed history fixture

URL = reverse("adminpanel:analytics")
MARCH_QUERY = {"start": "2026-03-01", "end": "2026-03-10", "granularity": "day", "currency": "GBP"}


def download(client, table, **params):
    response = client.get(URL, {**MARCH_QUERY, **params, "export": table})
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    return response, list(csv.reader(io.StringIO(body)))


@pytest.mark.django_db
def test_revenue_csv_holds_the_page_figures_as_decimals_for_the_same_range(march, staff_client):  # noqa: F811
    response, rows = download(staff_client, "revenue")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="analytics-revenue-20260301-20260310-GBP.csv"'
    assert rows[0] == ["period start", "gross", "refunds", "net", "platform fees", "coach payouts", "currency"]
    assert len(rows) == 1 + 10  # one row a day, 1–10 March
    by_day = {row[0]: row[1:] for row in rows[1:]}
    assert by_day["2026-03-02"] == ["100.00", "0.00", "100.00", "20.00", "0.00", "GBP"]
    assert by_day["2026-03-10"][1] == "50.00"  # the refund of 5,000 minor units
    total_gross = sum(float(row[1]) for row in rows[1:])
    assert total_gross == 300.00  # the page's "Gross £300.00"


@pytest.mark.django_db
def test_other_tables_match_their_page_tables(march, staff_client):  # noqa: F811
    _, status = download(staff_client, "orders_by_status")
    assert dict(status[1:])["In progress"] == "1" and dict(status[1:])["Completed"] == "1"
    _, funnel = download(staff_client, "conversion")
    assert funnel[1] == ["Requests sent", "4", "100.0"]
    _, top = download(staff_client, "top_by_revenue")
    assert top[0][0] == "coach" and top[1][0] == "Bea Coach"
    _, rating = download(staff_client, "top_by_rating")
    assert [row[0] for row in rating[1:]] == ["Bea Coach", "Ada Coach"]
    _, users = download(staff_client, "new_users")
    assert users[0] == ["period start", "client", "coach", "staff"]
    assert sum(int(row[1]) for row in users[1:]) == 2


@pytest.mark.django_db
def test_names_that_look_like_formulas_are_neutralised(march, staff_client):  # noqa: F811
    march["b"].user.first_name = '=HYPERLINK("http://evil")'
    march["b"].user.save(update_fields=["first_name"])
    _, top = download(staff_client, "top_by_revenue")
    assert top[1][0].startswith("'=HYPERLINK")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, message",
    [
        ({"export": "passwords"}, "There is no analytics table"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The start date is after the end date"),
        ({"start": "yesterday"}, "Enter a valid date"),
        ({"currency": "XXX"}, "Select a valid choice"),
    ],
)
def test_a_bad_export_request_is_refused_with_a_reason(march, staff_client, params, message):  # noqa: F811
    table = params.pop("export", "revenue")
    response = staff_client.get(URL, {**MARCH_QUERY, **params, "export": table})
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_only_staff_may_export(march, client):  # noqa: F811
    response = client.get(URL, {**MARCH_QUERY, "export": "revenue"})
    assert response.status_code == 302  # to the login page
    client.force_login(ClientFactory())
    assert client.get(URL, {**MARCH_QUERY, "export": "revenue"}).status_code == 403


@pytest.mark.django_db
def test_the_page_links_each_table_to_its_csv_with_the_same_filters(march, staff_client):  # noqa: F811
    html = staff_client.get(URL, MARCH_QUERY).content.decode()
    for table in ("revenue", "orders_by_status", "conversion", "top_by_revenue", "top_by_rating", "new_users"):
        assert f"start=2026-03-01&amp;end=2026-03-10&amp;granularity=day&amp;currency=GBP&amp;export={table}" in html
