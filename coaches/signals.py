"""Keep the cached directory honest when coach rows change outside coaches.services.

The staff console (admin) saves profiles and services directly, and accounts suspends or renames
users; a saved row of any of these makes cached directory results stale. Bulk `.update()`s send no
signal: they show within COACH_DIRECTORY_CACHE_SECONDS (see coaches.directory).
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from .directory import directory_changed
from .models import CoachProfile, CoachService


def _changed(**kwargs) -> None:
    transaction.on_commit(directory_changed)


def _user_changed(sender, instance, **kwargs) -> None:
    if getattr(instance, "role", None) == "coach":
        transaction.on_commit(directory_changed)


def connect() -> None:
    for model in (CoachProfile, CoachService):
        post_save.connect(_changed, sender=model, dispatch_uid=f"coaches-dir-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"coaches-dir-delete-{model.__name__}")
    m2m_changed.connect(_changed, sender=CoachProfile.languages.through, dispatch_uid="coaches-dir-languages")
    post_save.connect(_user_changed, sender="accounts.User", dispatch_uid="coaches-dir-user")
