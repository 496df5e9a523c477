from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor (docs/architecture.md): imports no project app; every app may import it."""

    name = "core"
    verbose_name = "Core"
