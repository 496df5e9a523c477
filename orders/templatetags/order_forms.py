"""The order page's forms, rendered as crispy_forms' `|crispy` renders them, once per form object."""

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django import template
from django.forms import Form
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def crispy_once(form: Form) -> SafeString:
    """`form|crispy`, kept on the form: the order page's empty forms are made once per process
    (orders.views.empty_form), so each is rendered once per process; a form sent back with its errors is
    made, and rendered, on its own request. `|crispy` shows nothing of the request (no CSRF token)."""
    rendered = form.__dict__.get("_crispy_html")
    if rendered is None:
        rendered = form.__dict__["_crispy_html"] = as_crispy_form(form)
    return rendered
