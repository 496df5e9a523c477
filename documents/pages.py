"""Which cached pages (core.pages) show documents' rows: the parties of the order they belong to; a file's
text and redlines, whoever sees the file."""

from core.pages import audience_of, follow

from .models import Comment, Extraction, JobDescription, OrderRetention, Redline


def _order_parties(row, **_) -> tuple[int, int]:
    return (row.order.client_id, row.order.coach_id)


def connect() -> None:
    for model in (Comment, JobDescription, OrderRetention):
        follow(model, _order_parties)
    follow(Extraction, lambda extraction, **_: audience_of(extraction.asset))
    follow(Redline, lambda redline, **_: audience_of(redline.new.asset) | audience_of(redline.old.asset))
