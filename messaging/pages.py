"""Which cached pages (core.pages) show conversations: both participants' (the thread, the dashboards'
recent conversations), and for a file, the participants of every thread it was sent in."""

from core.pages import follow
from files.models import FileAsset

from .models import Message, MessageThread, ThreadReadState


def participants(thread: MessageThread) -> tuple[int, int]:
    return (thread.client_id, thread.coach_id)


def _file(asset: FileAsset, *, created: bool, **_) -> list[int]:
    if created:
        return []  # sent with a message, whose save names the participants
    rows = MessageThread.objects.filter(messages__attachments=asset).values_list("client_id", "coach_id")
    return [pk for pair in rows.distinct() for pk in pair]


def connect() -> None:
    follow(MessageThread, lambda thread, **_: participants(thread))
    follow(Message, lambda message, **_: participants(message.thread))
    follow(ThreadReadState, lambda state, **_: participants(state.thread))  # read receipts show to the other
    follow(FileAsset, _file)
