from django.apps import AppConfig


class CoachesConfig(AppConfig):
    name = "coaches"
    verbose_name = "Coaches"

    def ready(self):
        from . import signals

        signals.connect()
