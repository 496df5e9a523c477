"""{% cached_include %}: an include served from the cache (core.fragments) when rendered with the same key before."""

from django import template
from django.utils.safestring import SafeString

from core.fragments import rendered_one

register = template.Library()


@register.simple_tag(takes_context=True)
def cached_include(context, template_name: str, *key) -> SafeString:
    """{% cached_include "partials/navbar.html" user.pk user.role … %}: the template rendered with this
    context, from the cache when it was rendered with the same key values before. Every value the
    template shows must be among them; it gets no request (no CSRF token)."""
    return rendered_one(template_name, key, context.flatten)
