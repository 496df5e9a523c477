from django.template import Context, Template

from requests_app.templatetags.marketplace import stars, status_badge


def _render(source: str, **context) -> str:
    return Template("{% load marketplace %}" + source).render(Context(context))


def test_stars_and_badges_escape_and_describe():
    assert 'aria-label="4.5 out of 5 stars"' in stars(4.5)
    assert stars(4.5).count("bi-star-fill") == 4 and "bi-star-half" in stars(4.5)
    assert stars(None).count('bi-star"') == 5
    assert "&lt;b&gt;" in status_badge("pending", "<b>")
    assert "text-bg-danger" in status_badge("disputed")
