from .services import get_or_create_thread


def open_thread_for_new_order(sender, order, **kwargs):
    """Runs inside the transaction that creates the order: order and thread commit together."""
    get_or_create_thread(order)
