"""The receipts page takes each row from the cache when it was rendered with the same values before: a
revisit renders no row, and a refund or a renamed order shows at once."""

import pytest
from django.test import Client

from core.pages import users_changed
from orders.models import Order
from orders.tests.factories import make_order
from payments.models import Payment, PaymentStatus
from payments.tests.test_pages import pay

pytestmark = pytest.mark.django_db

ROW = "payments/partials/receipt_row.html"


def visit(user):
    browser = Client()
    browser.force_login(user)
    response = browser.get("/payments/receipts/")
    assert response.status_code == 200
    return response


def rows_rendered(response) -> int:
    return sum(1 for t in response.templates if t.name == ROW)


def test_a_revisit_renders_no_row_and_shows_the_same(client_user, coach_user):
    for _ in range(3):
        pay(make_order(client=client_user, coach=coach_user))
    first = visit(client_user)
    assert rows_rendered(first) == 3
    again = visit(client_user)
    assert rows_rendered(again) == 0
    assert again.content.decode().count("<tr>") == first.content.decode().count("<tr>") == 4  # + the head


def test_a_refund_and_a_new_title_show_at_once(client_user, coach_user):
    order = make_order(client=client_user, coach=coach_user, title="CV for a data role")
    pay(order)
    assert "CV for a data role" in visit(client_user).content.decode()
    payment = Payment.objects.get(order=order)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REFUNDED, refunded_minor=payment.amount_minor)
    Order.objects.filter(pk=order.pk).update(title="CV for an analytics role")
    users_changed(client_user.pk)  # an .update() sends no signal: the writer names whose pages changed (core.pages)
    html = visit(client_user).content.decode()
    assert "refunded" in html and "CV for an analytics role" in html and "CV for a data role" not in html


def test_one_clients_rows_never_show_on_anothers_page(client_user, other_client, coach_user):
    order = make_order(client=client_user, coach=coach_user, title="Only mine")
    pay(order)
    assert "Only mine" in visit(client_user).content.decode()
    assert "Only mine" not in visit(other_client).content.decode()
