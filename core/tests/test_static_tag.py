"""{% static %} of {% load static_urls %} (every template of ours) is core.templatetags.static_urls': Django's URLs, looked up once per
path and script prefix per process, and looked up again when a setting they depend on changes."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template import Context, Template, TemplateSyntaxError
from django.templatetags.static import StaticNode
from django.urls import set_script_prefix
from django.utils.html import conditional_escape

from core.templatetags import static_urls

ROOT = Path(__file__).resolve().parents[2]


def render(source: str, **context) -> str:
    return Template("{% load static_urls %}" + source).render(Context(context))


def test_load_static_urls_gets_the_remembered_tag_and_djangos_others():
    nodes = Template("{% load static_urls %}{% static 'css/site.css' %}").nodelist
    assert isinstance(nodes[1], static_urls.RememberedStaticNode)
    assert render("{% get_static_prefix %}|{% get_media_prefix %}") != "|"


@pytest.mark.parametrize("path", ["css/site.css", "img/a file & more.svg", "vendor/ü/x.js?v=1"])
def test_it_answers_what_djangos_tag_answers(path):
    expected = conditional_escape(StaticNode.handle_simple(path))
    assert render("{% static p %}", p=path) == expected
    assert render(f"{{% static '{path}' %}}") == expected
    assert render("{% static p as url %}[{{ url }}]", p=path) == f"[{expected}]"


def test_a_path_is_looked_up_once(monkeypatch):
    static_urls._url.cache_clear()
    looked_up = []
    real = staticfiles_storage.url
    monkeypatch.setattr(staticfiles_storage, "url", lambda name: looked_up.append(name) or real(name))
    template = Template("{% load static_urls %}{% static 'css/site.css' %} {% static p %}")

    first = template.render(Context({"p": "js/dom.js"}))
    again = template.render(Context({"p": "js/dom.js"}))

    assert first == again
    assert looked_up == ["css/site.css", "js/dom.js"]


def test_a_changed_setting_is_seen_at_once(settings):
    assert render("{% static 'css/site.css' %}") == "/static/css/site.css"
    settings.STATIC_URL = "/assets/"
    assert render("{% static 'css/site.css' %}") == "/assets/css/site.css"


def test_under_another_script_prefix_it_answers_what_django_answers_there(settings):
    settings.STATIC_URL = "static/"  # relative: Django prepends the script prefix
    for prefix in ("/mounted/", "/"):
        set_script_prefix(prefix)
        try:
            assert render("{% static 'css/site.css' %}") == StaticNode.handle_simple("css/site.css")
        finally:
            set_script_prefix("/")


def test_errors_are_djangos():
    with pytest.raises(TemplateSyntaxError):
        Template("{% load static_urls %}{% static %}")


def test_every_template_of_ours_loads_the_remembered_tag():
    """A template that loads Django's `static` library gets the storage lookup on every render."""
    loads = re.compile(r"{%\s*load\s[^%]*\bstatic\b(?!_)")
    templates = [
        p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts and "node_modules" not in p.parts
    ]
    assert templates
    assert [str(p.relative_to(ROOT)) for p in templates if loads.search(p.read_text())] == []
