from django.template import Context, Template

from requests_app.templatetags.marketplace import stars, status_badge


def _render(source: str, **context) -> str:
    return Template("{% load marketplace %}" + source).render(Context(context))


def test_include_optional_renders_an_existing_partial_and_skips_a_missing_one():
    assert "Orders by status" not in _render('{% include_optional "no/such/partial.html" %}')
    assert _render('{% include_optional "no/such/partial.html" %}') == ""
    html = _render('{% include_optional "dashboards/_notifications.html" %}', notifications=[])
    assert "Recent notifications" in html


def test_stars_and_badges_escape_and_describe():
    assert 'aria-label="4.5 out of 5 stars"' in stars(4.5)
    assert stars(4.5).count("bi-star-fill") == 4 and "bi-star-half" in stars(4.5)
    assert stars(None).count('bi-star"') == 5
    assert "&lt;b&gt;" in status_badge("pending", "<b>")
    assert "text-bg-danger" in status_badge("disputed")
