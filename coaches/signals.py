"""Keep derived coach data honest when coach rows change, including outside coaches.services.

Receivers here only invalidate caches or call coaches.services (which writes the derived fields).

A saved or deleted service re-derives the coach's “price from”, listing and directory offers; a saved
coach account re-derives the listing (suspension, reactivation) and, when it changed, the offers; a
change to a coach's languages re-derives their offers.

The staff console (admin) saves profiles and services directly, and accounts suspends or renames
users; a saved row of any of these makes cached directory results stale. Bulk `.update()`s send no
signal: they show within COACH_DIRECTORY_CACHE_SECONDS (see coaches.directory).
"""

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from files.models import Avatar, FileAsset, FileCategory

from .directory import directory_changed, forget_languages
from .models import CoachProfile, CoachService, DirectoryOffer, Language


def _changed(**kwargs) -> None:
    transaction.on_commit(directory_changed)


def _service_changed(sender, instance, **kwargs) -> None:
    from .services import refresh_price_from

    refresh_price_from(instance.coach_id)


# A save limited to other fields (a login writes last_login) changes neither listing nor search text.
STANDING_FIELDS = frozenset({"is_active", "account_status", "role"})
NAME_FIELDS = frozenset({"first_name", "last_name"})


def _touches(update_fields, fields: frozenset) -> bool:
    return update_fields is None or bool(fields & set(update_fields))


SHOWN_FIELDS = STANDING_FIELDS | NAME_FIELDS  # what cards and coach pages show of the account


def _user_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if getattr(instance, "role", None) != "coach":
        return
    if _touches(update_fields, STANDING_FIELDS):
        from .services import refresh_listing_for_user

        refresh_listing_for_user(instance)
    if _touches(update_fields, SHOWN_FIELDS):
        transaction.on_commit(directory_changed)


def _photo_checked(sender, instance, update_fields=None, **kwargs) -> None:
    """A profile photo's scan finished (or it was removed): cards and coach pages show it, or stop."""
    if instance.category == FileCategory.AVATAR:
        transaction.on_commit(directory_changed)


def connect() -> None:
    for model in (CoachProfile, CoachService):
        post_save.connect(_changed, sender=model, dispatch_uid=f"coaches-dir-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"coaches-dir-delete-{model.__name__}")
    post_save.connect(_service_changed, sender=CoachService, dispatch_uid="coaches-price-from-save")
    post_delete.connect(_service_changed, sender=CoachService, dispatch_uid="coaches-price-from-delete")
    m2m_changed.connect(_changed, sender=CoachProfile.languages.through, dispatch_uid="coaches-dir-languages")
    m2m_changed.connect(
        _coach_languages_changed, sender=CoachProfile.languages.through, dispatch_uid="coaches-offer-languages"
    )
    post_save.connect(_user_changed, sender="accounts.User", dispatch_uid="coaches-dir-user")
    post_save.connect(_user_renamed, sender="accounts.User", dispatch_uid="coaches-search-user")
    post_save.connect(_photo_checked, sender=FileAsset, dispatch_uid="coaches-dir-photo")
    post_save.connect(_changed, sender=Avatar, dispatch_uid="coaches-dir-avatar-save")
    post_delete.connect(_changed, sender=Avatar, dispatch_uid="coaches-dir-avatar-delete")
    post_save.connect(_languages_changed, sender=Language, dispatch_uid="coaches-languages-save")
    post_delete.connect(_languages_changed, sender=Language, dispatch_uid="coaches-languages-delete")


def _coach_languages_changed(sender, instance, action, reverse, pk_set=None, **kwargs) -> None:
    """The directory's offers are per language (coaches.models.DirectoryOffer): re-derive those of the
    coaches whose languages changed, from either side (profile.languages, language.coaches)."""
    from .services import refresh_offers

    if action not in ("post_add", "post_remove", "post_clear") or (action != "post_clear" and not pk_set):
        return
    if not reverse:
        coaches = CoachProfile.objects.filter(pk=instance.pk)
    elif action == "post_clear":  # the language left every coach; its offers still name them
        coach_ids = DirectoryOffer.objects.filter(language=instance).values_list("coach_id", flat=True)
        coaches = CoachProfile.objects.filter(pk__in=list(coach_ids.distinct()))
    else:
        coaches = CoachProfile.objects.filter(pk__in=pk_set or ())
    refresh_offers(coaches)


def _languages_changed(**kwargs) -> None:
    """The filter's language list (and its code → id map) is cached: rebuild it after commit.

    Other processes keep theirs for up to a minute (coaches.directory.language_choices)."""
    transaction.on_commit(forget_languages)


def _user_renamed(sender, instance, update_fields=None, **kwargs) -> None:
    """A coach's name is part of their search text."""
    if getattr(instance, "role", None) != "coach" or not _touches(update_fields, NAME_FIELDS):
        return
    from .services import refresh_search_text_for_user

    refresh_search_text_for_user(instance)
