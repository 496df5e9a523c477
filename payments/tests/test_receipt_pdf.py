"""Receipts as a person keeps them: seller and buyer, the platform fee, refunds; as a page and as a PDF."""

import io

import pytest
from django.test import Client
from pypdf import PdfReader

from orders.tests.factories import make_order
from payments import receipts, services

from .test_pages import logged_in, pay


def pdf_text(response) -> str:
    assert response["Content-Type"] == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


@pytest.mark.django_db
def test_receipt_breaks_the_total_into_the_coachs_share_and_the_platform_fee(order, settings):
    settings.RECEIPT_SELLER_ADDRESS = ["1 Example Street", "London"]
    settings.RECEIPT_SELLER_TAX_ID = "GB123"
    receipt = receipts.build(pay(order))
    assert [(line.label, line.amount_minor) for line in receipt.lines] == [
        (f"CV writing by {order.coach.display_name}", 9600),
        ("Platform fee (included)", 2400),
        ("Total paid", 12000),
    ]
    assert receipt.seller == ["Elite Writing Services", "1 Example Street", "London", "Tax id GB123"]
    assert receipt.buyer == [order.client.display_name, order.client.email]


@pytest.mark.django_db
def test_the_pdf_holds_seller_buyer_fee_and_refunds(order, staff_user):
    payment = pay(order)
    services.refund(payment.pk, amount_minor=2000, actor=staff_user, reason="goodwill")
    client = logged_in(order.client)
    response = client.get(f"/payments/receipts/{payment.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="receipt-EWS-{payment.pk}.pdf"'
    text = pdf_text(response)
    for expected in (
        f"EWS-{payment.pk}",
        "Elite Writing Services",
        order.client.email,
        "Platform fee (included)",
        "£24.00",
        "Total paid",
        "£120.00",
        "-£20.00",
        "Net paid",
        "£100.00",
    ):
        assert expected in text, expected
    html = client.get(f"/payments/receipts/{payment.pk}/").content.decode()
    assert "Platform fee (included)" in html and f"/payments/receipts/{payment.pk}/pdf/" in html


@pytest.mark.django_db
def test_names_in_any_script_reach_the_pdf(client_user, coach_user):
    client_user.first_name, client_user.last_name = "Zoë", "Łukasiewicz-Ng 吴"
    client_user.save(update_fields=["first_name", "last_name"])
    payment = pay(make_order(client=client_user, coach=coach_user))
    text = pdf_text(logged_in(client_user).get(f"/payments/receipts/{payment.pk}/pdf/"))
    assert "Łukasiewicz" in text


@pytest.mark.django_db
def test_euro_and_yen_amounts_use_their_own_decimals(client_user, coach_user):
    order = make_order(client=client_user, coach=coach_user)
    order.currency, order.amount_minor = "JPY", 15000
    order.save(update_fields=["currency", "amount_minor"])
    payment = pay(order)
    text = pdf_text(logged_in(client_user).get(f"/payments/receipts/{payment.pk}/pdf/"))
    assert "15,000 JPY" in text


@pytest.mark.django_db
def test_someone_elses_or_an_unpaid_receipt_is_404(order, other_client):
    payment = pay(order)
    assert logged_in(other_client).get(f"/payments/receipts/{payment.pk}/pdf/").status_code == 404
    unpaid = services.start_test_checkout(make_order(client=order.client, coach=order.coach).pk, actor=order.client)
    assert logged_in(order.client).get(f"/payments/receipts/{unpaid.pk}/pdf/").status_code == 404
    assert logged_in(order.client).get(f"/payments/receipts/{unpaid.pk}/").status_code == 404
    response = Client().get(f"/payments/receipts/{payment.pk}/pdf/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
