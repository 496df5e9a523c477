from django.apps import AppConfig

THIRD_PARTY_UNSHOWN = frozenset(
    {"admin", "auth", "contenttypes", "sessions", "sites", "django_celery_beat", "usersessions"}
)


class CoreConfig(AppConfig):
    """The ground floor (docs/architecture.md): imports no project app; every app may import it."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.apps import apps

        from .pages import ignore

        # No cached page (core.pages) shows these libraries' rows; allauth's EmailAddress is accounts' to follow.
        ignore(*(m for m in apps.get_models() if m._meta.app_label in THIRD_PARTY_UNSHOWN))
