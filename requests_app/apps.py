from django.apps import AppConfig


class RequestsAppConfig(AppConfig):
    name = "requests_app"
    verbose_name = "Requests"

    def ready(self) -> None:
        from . import pages

        pages.connect()  # which cached pages show requests (core.pages)

        # files builds a user's data export; our section adds the requests they sent.
        from files.exports import register

        from .exports import section

        register("requests", section)
