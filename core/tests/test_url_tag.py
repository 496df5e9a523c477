"""{% url %} is core.templatetags.urls' (a builtin): the same URLs and errors as Django's, remembered per
process under a key that holds everything reverse() reads."""

import pytest
from django.db.models import IntegerChoices
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings
from django.urls import NoReverseMatch, get_resolver, path, re_path, register_converter, reverse, set_script_prefix
from django.utils.html import conditional_escape

from core.templatetags import urls

IDS = [1, 2, 9, 10, 99, 100, 12345, 2**31 - 1, 10**18, 10**19 - 1]


def _view(request, **kwargs):
    raise AssertionError("never called")


class Padded:
    """Prints an id in 8 digits at least: a long id as it is, a short one otherwise."""

    regex = "[0-9]+"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return f"{value:08d}"


register_converter(Padded, "padded")


# This module is the URLconf of the tests that need routes the form must not fit.
urlpatterns = [
    path("plain/<int:pk>/", _view, name="plain"),
    re_path(r"^short/(?P<pk>[0-9]{1,4})/$", _view, name="short"),
    re_path(r"^long/(?P<pk>[0-9]{5,})/$", _view, name="long"),
    re_path(r"^nonzero/(?P<pk>[1-9][0-9]*)/$", _view, name="nonzero"),
    path("twice/<int:pk>/", _view, name="twice"),
    path("twice/<slug:key>/", _view, name="twice"),
    path("same/<int:a>/<int:b>/", _view, name="same"),
    path("amp&<int:pk>/", _view, name="amp"),
    path("padded/<padded:pk>/", _view, name="padded"),
]


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_every_template_gets_the_remembered_tag_without_loading_it():
    nodes = Template("{% url 'landing' %}").nodelist
    assert isinstance(nodes[0], urls.RememberedURLNode)


def test_it_answers_what_reverse_answers_with_and_without_arguments():
    assert render("{% url 'landing' %}") == reverse("landing")
    assert render("{% url 'orders:detail' 7 %}") == reverse("orders:detail", args=[7])
    assert render("{% url 'orders:detail' pk=n %}", n=8) == reverse("orders:detail", kwargs={"pk": 8})
    assert render("{% url 'orders:detail' n as link %}[{{ link }}]", n=9) == f"[{reverse('orders:detail', args=[9])}]"


def test_a_second_render_is_a_memo_hit_and_each_argument_its_own_entry():
    urls._reverse.cache_clear()
    template = Template("{% url 'orders:detail' n %}")
    assert template.render(Context({"n": "1"})) != template.render(Context({"n": "2"}))
    template.render(Context({"n": "1"}))
    info = urls._reverse.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_an_argument_that_is_not_a_str_or_int_is_reversed_every_time():
    class Pk:
        def __init__(self, value):
            self.value = value

        def __str__(self):
            return str(self.value)

    urls._reverse.cache_clear()
    assert render("{% url 'orders:detail' p %}", p=Pk(5)) == reverse("orders:detail", args=[5])
    assert urls._reverse.cache_info().currsize == 0


def test_errors_are_djangos_and_are_not_remembered():
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-view' %}")
    assert render("{% url 'no-such-view' as link %}[{{ link }}]") == "[]"
    with pytest.raises(TemplateSyntaxError):
        Template("{% url %}")


def test_the_script_prefix_is_part_of_the_key():
    assert render("{% url 'landing' %}") == "/"
    set_script_prefix("/mounted/")
    try:
        assert render("{% url 'landing' %}") == "/mounted/"
    finally:
        set_script_prefix("/")
    assert render("{% url 'landing' %}") == "/"


def test_a_swapped_urlconf_empties_the_memo():
    render("{% url 'landing' %}")
    assert urls._reverse.cache_info().currsize > 0
    with override_settings(ROOT_URLCONF="elite.urls"):
        assert urls._reverse.cache_info().currsize == 0


def _int_routes() -> list[tuple[str, int]]:
    """Every named route of the site's URLconf with its number of arguments, namespaced."""
    found = []

    def walk(resolver, namespace):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif pattern.name and pattern.pattern.converters:
                found.append((namespace + pattern.name, len(pattern.pattern.converters)))

    walk(get_resolver(), "")
    return found


def test_an_int_routes_url_from_its_form_is_what_reverse_answers_for_every_id():
    routes = _int_routes()
    assert ("orders:detail", 1) in routes and ("documents:read", 2) in routes
    formed = 0
    for name, arity in routes:
        tag = Template("{% url name " + " ".join(f"a{n}" for n in range(arity)) + " %}")
        for pk in IDS:
            args = [pk + n for n in range(arity)]
            try:
                expected = conditional_escape(reverse(name, args=args))
            except NoReverseMatch:  # a str argument (payments:checkout's provider): not these ids' route
                continue
            assert tag.render(Context({"name": name, **{f"a{n}": v for n, v in enumerate(args)}})) == expected
            formed += 1
    assert formed > 300
    assert urls._int_form.cache_info().currsize > 30


def test_a_new_id_is_not_reversed_once_the_route_has_its_form(monkeypatch):
    tag = Template("{% url 'orders:detail' n %} {% url 'payments:checkout' n provider %}")
    tag.render(Context({"n": 5, "provider": "test"}))
    reversed_now = []
    monkeypatch.setattr(urls, "reverse", lambda *a, **k: reversed_now.append(a) or reverse(*a, **k))
    urls._reverse.cache_clear()
    out = tag.render(Context({"n": 777001, "provider": "test"}))
    assert out == f"{reverse('orders:detail', args=[777001])} {reverse('payments:checkout', args=[777001, 'test'])}"
    assert reversed_now == []
    assert tag.render(Context({"n": 777002, "provider": "stripe"})).endswith("/checkout/777002/stripe/")
    assert len(reversed_now) == 2  # a str argument not seen before: the form for that value, with its check


@override_settings(ROOT_URLCONF=__name__)
def test_a_route_that_refuses_some_ids_reverses_each_and_zero_is_no_id():
    assert urls._int_form("short", (None,), (), None, __name__, "/", "en") is None
    assert urls._int_form("long", (None,), (), None, __name__, "/", "en") is None  # the 19-digit one only
    assert render("{% url 'long' n %}", n=12345) == "/long/12345/"
    with pytest.raises(NoReverseMatch):
        render("{% url 'long' n %}", n=12)
    assert urls._int_form("nonzero", (None,), (), None, __name__, "/", "en") == (("/nonzero/", "/"), (0,))
    assert render("{% url 'short' n %}", n=1234) == "/short/1234/"
    with pytest.raises(NoReverseMatch):
        render("{% url 'short' n %}", n=12345)
    assert render("{% url 'nonzero' n %}", n=10) == "/nonzero/10/"
    with pytest.raises(NoReverseMatch):
        render("{% url 'nonzero' n %}", n=0)
    assert urls._int_form("padded", (None,), (), None, __name__, "/", "en") is None  # the 1-digit one differs
    assert render("{% url 'padded' n %}", n=42) == "/padded/00000042/"
    assert render("{% url 'plain' n %}", n=0) == "/plain/0/"  # 0 and below are not ids: Django's answer
    with pytest.raises(NoReverseMatch):
        render("{% url 'plain' n %}", n=-3)


@override_settings(ROOT_URLCONF=__name__)
def test_ids_are_placed_in_order_and_text_around_them_escaped():
    assert render("{% url 'same' a b %}", a=1, b=1) == "/same/1/1/"
    assert render("{% url 'same' a b %}", a=2, b=31) == "/same/2/31/"
    assert render("{% url 'same' b=x a=y %}", x=4, y=3) == "/same/3/4/"
    assert urls._int_form("same", (), (("b", None), ("a", None)), None, __name__, "/", "en") == (
        ("/same/", "/", "/"),
        (1, 0),
    )
    assert render("{% url 'amp' n %}", n=8) == "/amp&amp;8/"
    assert render("{% autoescape off %}{% url 'amp' n %}{% endautoescape %}", n=8) == "/amp&8/"
    assert render("{% url 'amp' n as link %}{{ link }}", n=9) == "/amp&amp;9/"
    assert render("{% url 'twice' n %}|{% url 'twice' 'x-y' %}", n=6) == "/twice/6/|/twice/x-y/"


@override_settings(ROOT_URLCONF=__name__)
def test_values_that_print_otherwise_than_an_int_are_reversed_each_time():
    class Level(IntegerChoices):
        LOW = 3

    urls._int_form.cache_clear()
    with pytest.raises(NoReverseMatch):
        render("{% url 'plain' n %}", n=True)
    assert render("{% url 'plain' n %}", n=Level.LOW) == reverse("plain", args=[Level.LOW])
    assert urls._int_form.cache_info().currsize == 0


def test_the_script_prefix_is_part_of_the_forms_key():
    set_script_prefix("/a&b/")
    try:
        assert render("{% url 'orders:detail' n %}", n=31) == "/a&amp;b/orders/31/"
    finally:
        set_script_prefix("/")
    assert render("{% url 'orders:detail' n %}", n=31) == "/orders/31/"
