"""{% url %} is core.templatetags.urls' (a builtin): the same URLs and errors as Django's, remembered per
process under a key that holds everything reverse() reads."""

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix

from core.templatetags import urls


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
    assert template.render(Context({"n": 1})) != template.render(Context({"n": 2}))
    template.render(Context({"n": 1}))
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
