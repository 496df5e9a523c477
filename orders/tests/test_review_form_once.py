"""The order page's review form: its fields are rendered once per form object (order_forms.rendered_once), so
the empty form the page shows every completed, unreviewed order is rendered once per process (issue 13), and
each is what the inline markup it replaced rendered, for the empty form and for one sent back with errors."""

import pytest
from django.template import Context, Template
from django.test.signals import template_rendered

from core.pages import users_changed
from orders import services, views
from orders.forms import ReviewForm
from orders.templatetags.order_forms import rendered_once

pytestmark = pytest.mark.django_db

FIELDS = "orders/partials/review_fields.html"
# What orders/partials/review_form.html printed between its {% csrf_token %} and its button before.
INLINE = """{% load crispy_forms_tags %}
    <fieldset class="mb-3">
      <legend class="form-label fs-6">Your rating<span class="asteriskField">*</span></legend>
      <div class="star-input">
        {% for value, label in review_form.fields.rating.choices %}
        <input class="visually-hidden" type="radio" name="rating" id="rating-{{ value }}" value="{{ value }}" required{% if review_form.rating.value|stringformat:"s" == value|stringformat:"s" %} checked{% endif %}>
        <label for="rating-{{ value }}" title="{{ label }}"><i class="bi bi-star-fill" aria-hidden="true"></i><span class="visually-hidden">{{ label }}</span></label>
        {% endfor %}
      </div>
      {% for e in review_form.rating.errors %}<div class="invalid-feedback d-block">{{ e }}</div>{% endfor %}
    </fieldset>
    {{ review_form.comment|as_crispy_field }}"""


@pytest.fixture
def renders():
    seen: list[str] = []

    def record(sender, template, context, **kwargs):
        seen.append(template.name)

    template_rendered.connect(record)
    yield seen
    template_rendered.disconnect(record)


@pytest.fixture
def unreviewed(order):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    return services.accept_delivery(order.pk, actor=order.client)


@pytest.mark.parametrize(
    "data",
    [None, {"rating": "4", "comment": "x" * 5000}, {"rating": "9", "comment": "<b>&</b>"}, {"comment": "no rating"}],
)
def test_the_fields_are_the_inline_markups_render(data):
    form = ReviewForm(data) if data is not None else ReviewForm()
    if data is not None:
        assert not form.is_valid()  # sent back: errors on the rating or the comment
    expected = Template(INLINE).render(Context({"review_form": form}))
    assert rendered_once(form, FIELDS) == expected
    assert rendered_once(form, FIELDS) is rendered_once(form, FIELDS)


def test_a_bound_forms_rating_and_errors_show(renders):
    form = ReviewForm({"rating": "4", "comment": "x" * 5000})
    form.is_valid()
    html = rendered_once(form, FIELDS)
    assert 'id="rating-4" value="4" required checked>' in html and "is-invalid" in html
    assert 'value="3" required>' in html


def test_the_empty_form_is_rendered_once_per_process_and_a_sent_back_one_on_its_request(
    client, unreviewed, client_user, renders
):
    views._empty_forms.clear()
    client.force_login(client_user)
    for _ in range(2):
        users_changed(client_user.pk)
        page = client.get(f"/orders/{unreviewed.pk}/")
        assert b"How did it go?" in page.content and b'name="rating" id="rating-5"' in page.content
    assert renders.count(FIELDS) == 1
    sent_back = client.post(f"/orders/{unreviewed.pk}/review/", {"rating": "7"})
    assert sent_back.status_code == 400
    assert b'<div class="invalid-feedback d-block">' in sent_back.content
    assert renders.count(FIELDS) == 2
