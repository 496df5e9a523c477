from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from core.console import register_staff_action_recorder

        from .services import record

        register_staff_action_recorder(record)

        from core.pages import ignore

        from .models import AuditLog

        ignore(AuditLog)  # staff read it in the console, which is never cached (core.pages)
