"""The order page's forms, rendered as crispy_forms' `|crispy` renders them, once per form object."""

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django import template
from django.forms import Form
from django.template.loader import render_to_string
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


@register.filter
def rendered_once(form: Form, template_name: str) -> SafeString:
    """`template_name` rendered with only the form (as `review_form`), kept on the form as crispy_once keeps
    its render: the page's empty review form is rendered once per process, a form sent back on its request."""
    kept = form.__dict__.setdefault("_rendered_once", {})
    rendered = kept.get(template_name)
    if rendered is None:
        rendered = kept[template_name] = render_to_string(template_name, {"review_form": form})
    return rendered
