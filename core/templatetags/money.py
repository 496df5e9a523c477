from django import template

from core.money import format_money

register = template.Library()


@register.simple_tag
def money(amount_minor, currency):
    """{% money order.amount_minor order.currency %} → £120.00"""
    return format_money(amount_minor, currency)
