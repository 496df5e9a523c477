from django.apps import AppConfig


class CoachesConfig(AppConfig):
    name = "coaches"
    verbose_name = "Coaches"

    def ready(self):
        from files.exports import register

        from . import signals
        from .exports import section

        signals.connect()
        from . import pages

        pages.connect()  # which cached pages show coaches (core.pages)
        # files builds a user's data export; our section adds a coach's own profile and services.
        register("coaches", section)
