"""documents' section of a user's data export: the text we read from their files, the comments they
wrote, and the target jobs they pasted. Registered with files.exports in DocumentsConfig.ready."""

from collections.abc import Iterable

from accounts.models import User
from files.exports import Entry, as_json, exportable_files, file_path

from .extraction import block_text
from .models import Comment, Extraction, JobDescription


def section(user: User) -> Iterable[Entry]:
    texts = Extraction.objects.filter(asset__in=exportable_files(user), status="ok").select_related("asset")
    for extraction in texts:
        name = file_path(extraction.asset).removeprefix("files/")
        yield f"texts/{name}.txt", "\n\n".join(block_text(block) for block in extraction.blocks)
    comments = Comment.objects.filter(author=user).select_related("asset", "parent").order_by("created_at", "id")
    yield (
        "comments.json",
        as_json(
            [
                {
                    "order": c.order_id,
                    "file": c.asset.original_name,
                    "passage": c.quote,
                    "comment": c.body,
                    "reply_to": c.parent_id,
                    "resolved_at": c.resolved_at,
                    "created_at": c.created_at,
                }
                for c in comments
            ]
        ),
    )
    jobs = JobDescription.objects.filter(author=user).order_by("created_at", "id")
    yield (
        "job_descriptions.json",
        as_json([{"order": j.order_id, "title": j.title, "text": j.text, "created_at": j.created_at} for j in jobs]),
    )
