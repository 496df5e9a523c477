"""messaging's section of a user's data export: the messages they sent (not the other side's, which
are that person's words). Registered with files.exports in MessagingConfig.ready."""

from collections.abc import Iterable

from accounts.models import User
from files.exports import Entry, as_json

from .models import Message


def section(user: User) -> Iterable[Entry]:
    sent = (
        Message.objects.filter(sender=user)
        .select_related("thread")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
    yield (
        "messages.json",
        as_json(
            [
                {
                    "thread": m.thread_id,
                    "order": m.thread.order_id,
                    "body": m.body,
                    "attachments": [asset.pk for asset in m.attachments.all()],
                    "sent_at": m.created_at,
                }
                for m in sent
            ]
        ),
    )
