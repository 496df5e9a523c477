from django import template

from documents import services

register = template.Library()


@register.simple_tag
def order_documents(order, deliveries=None):
    """The versions of the order's documents for the order page's panel (three queries; two when the page says,
    with the deliveries it read, that there are none)."""
    return services.versions(order, delivered=bool(deliveries) if isinstance(deliveries, list) else None)


@register.simple_tag
def order_retention(order):
    """When (or whether) the order's documents are deleted, for the order page's panel (one query)."""
    return services.retention_state(order)


@register.filter
def terms(result, status: str) -> list[str]:
    """The key terms of one job result with this status (present, implied or missing)."""
    return result.of(status)
