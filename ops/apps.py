from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Observability: fills core.metrics from requests, signals and Celery; serves /metrics.

    The top floor beside adminpanel: it listens to the apps below (their signals and model saves)
    and changes nothing of theirs.
    """

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
