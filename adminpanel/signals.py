"""Keep the cached analytics figures honest: every write to one of their inputs makes them stale.

The inputs are orders (status, paid and delivered times), requests (status, decision time), reviews
(rating, hidden), ledger rows, and users (signups by role; the top lists show coaches' names). Saves
and deletes send Django's signals, the ledger's bulk INSERT sends payments' own (ledger_written), and
the bulk `.update()`s in the services touch none of these figures' fields (an order's resolution claim,
a request's job text, a user's token version). A write that skips the services (a shell, a seed)
shows within core.cache.DEFAULT_SECONDS.
"""

from django.db.models.signals import post_delete, post_save

from accounts.models import User
from orders.models import Order, Review
from payments.models import LedgerEntry
from payments.signals import ledger_written
from requests_app.models import ServiceRequest

from .analytics import figures_changed

# A save limited to other fields (a login writes last_login) changes no figure.
USER_FIELDS = frozenset({"role", "date_joined", "email", "first_name", "last_name"})


def _changed(**kwargs) -> None:
    figures_changed()


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is None or USER_FIELDS & set(update_fields):
        figures_changed()


def connect() -> None:
    for model in (Order, Review, LedgerEntry, ServiceRequest):
        post_save.connect(_changed, sender=model, dispatch_uid=f"adminpanel-figures-{model.__name__}", weak=False)
        post_delete.connect(_changed, sender=model, dispatch_uid=f"adminpanel-figures-del-{model.__name__}", weak=False)
    post_save.connect(_user_changed, sender=User, dispatch_uid="adminpanel-figures-user", weak=False)
    post_delete.connect(_changed, sender=User, dispatch_uid="adminpanel-figures-del-user", weak=False)
    ledger_written.connect(_changed, sender=LedgerEntry, dispatch_uid="adminpanel-figures-ledger", weak=False)
