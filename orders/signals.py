"""Hooks higher layers (payments, messaging) register for; sent inside the service's transaction."""

from django.dispatch import Signal

# kwargs: order, from_status, to_status, transition, actor, note
order_status_changed = Signal()
# kwargs: order
order_created = Signal()
