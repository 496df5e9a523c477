from celery import shared_task

from . import services


@shared_task
def send_chat_digests() -> int:
    """Beat runs this every minute; each participant gets at most one digest per thread per interval."""
    return services.send_digests()
