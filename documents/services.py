"""Every change to documents' tables goes through here: extractions, redlines, comments, job
descriptions and the retention purge. Text is personal data: no function here logs it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import record as audit
from core.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from files.models import FileAsset, FileCategory, ScanStatus
from orders import services as order_services
from orders.models import Delivery, Order, OrderStatus

from . import extraction as reader
from . import redline as redlines
from .models import Comment, Extraction, ExtractionStatus, JobDescription, Redline

logger = logging.getLogger(__name__)

READABLE_TYPES = (reader.PDF, reader.DOCX)


# --- Extraction -----------------------------------------------------------------------------------


def limits() -> reader.Limits:
    return reader.Limits(
        max_pages=settings.DOCUMENTS_MAX_PAGES,
        max_chars=settings.DOCUMENTS_MAX_CHARS,
        seconds=settings.DOCUMENTS_EXTRACT_SECONDS,
        max_unzipped_bytes=settings.DOCUMENTS_MAX_UNZIPPED_BYTES,
    )


def extract_file(asset_id: int) -> Extraction | None:
    """Read a clean file's text once and record the outcome, success or a clear failure."""
    asset = FileAsset.objects.filter(pk=asset_id).first()
    if asset is None or asset.deleted_at is not None or asset.scan_status != ScanStatus.CLEAN:
        return None
    existing = Extraction.objects.filter(asset=asset).first()
    if existing is not None:
        return existing
    fields = _read(asset)
    try:
        with transaction.atomic():
            return Extraction.objects.create(asset=asset, **fields)
    except IntegrityError:  # a redelivered task got there first
        return Extraction.objects.get(asset=asset)


def _read(asset: FileAsset) -> dict:
    if asset.content_type not in READABLE_TYPES:
        return _failed("unsupported", "We can only show PDF and Word (DOCX) files in the browser.")
    if asset.size > settings.DOCUMENTS_MAX_BYTES:
        return _failed("too_large", "This file is too large for us to read in the browser. Open the original.")
    try:
        with default_storage.open(asset.key, "rb") as fileobj:
            data = fileobj.read()
        result = reader.extract(data, asset.content_type, limits())
    except reader.ExtractionFailed as exc:
        logger.info("file %s could not be read: %s", asset.pk, exc.code)
        return _failed(exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - any parser crash is recorded, never silent
        logger.warning("reading file %s failed: %s", asset.pk, type(exc).__name__)
        return _failed("error", "We could not read this file. Open the original to see it.")
    return {
        "status": ExtractionStatus.OK,
        "kind": result.kind,
        "page_count": result.page_count,
        "pages_estimated": result.pages_estimated,
        "has_text_layer": result.has_text_layer,
        "blocks": result.blocks,
        "flags": result.flags,
        "word_count": redlines.count_words(result.text),
    }


def _failed(code: str, message: str) -> dict:
    return {"status": ExtractionStatus.FAILED, "failure_code": code, "failure_message": message[:300]}


# --- Versions of an order's document ---------------------------------------------------------------


@dataclass
class Version:
    key: str  # "o1" for the client's first original, "d2.1" for delivery 2's first file
    label: str
    asset: FileAsset
    extraction: Extraction | None

    @property
    def short_label(self) -> str:
        return self.label.split(":", 1)[0]


def versions(order: Order) -> list[Version]:
    """The client's original documents, then every delivery's files, oldest first (three queries)."""
    originals = (
        order.request.attachments.live()
        .filter(category=FileCategory.CV_UPLOAD)
        .select_related("extraction")
        .order_by("created_at", "id")
    )
    found = [
        Version(f"o{n}", f"Your original: {asset.original_name}", asset, _extraction_of(asset))
        for n, asset in enumerate(originals, start=1)
    ]
    deliveries = Delivery.objects.filter(order=order).prefetch_related("files__extraction").order_by("number")
    for delivery in deliveries:
        files = sorted(delivery.files.all(), key=lambda asset: (asset.created_at, asset.pk))
        for n, asset in enumerate(files, start=1):
            label = f"Delivery {delivery.number}: {asset.original_name}"
            found.append(Version(f"d{delivery.number}.{n}", label, asset, _extraction_of(asset)))
    return found


def _extraction_of(asset: FileAsset) -> Extraction | None:
    try:
        return asset.extraction
    except Extraction.DoesNotExist:
        return None


def previous_version(all_versions: list[Version], version: Version) -> Version | None:
    """The version this one is compared with by default: the same file slot of the delivery before, or
    the client's first original for delivery 1."""
    index = all_versions.index(version)
    if version.key.startswith("o"):
        return None
    number, slot = (int(part) for part in version.key[1:].split("."))
    wanted = f"d{number - 1}.{slot}" if number > 1 else "o1"
    earlier = {v.key: v for v in all_versions[:index]}
    return earlier.get(wanted) or earlier.get(f"d{number - 1}.1") or earlier.get("o1")


def find_version(all_versions: list[Version], asset_id) -> Version | None:
    for version in all_versions:
        if str(version.asset.pk) == str(asset_id):
            return version
    return None


# --- Redlines -------------------------------------------------------------------------------------


def redline(old: Extraction, new: Extraction) -> Redline:
    """The comparison of two readable versions, computed once per pair and kept."""
    if not (old.ok and new.ok):
        raise InvalidState("Both versions must be readable to compare them.")
    cached = Redline.objects.filter(old=old, new=new).first()
    if cached is not None:
        return cached
    rows, summary = redlines.compare(old.blocks, new.blocks)
    try:
        with transaction.atomic():
            return Redline.objects.create(old=old, new=new, rows=rows, summary=summary)
    except IntegrityError:  # two viewers computed it at once: keep the first
        return Redline.objects.get(old=old, new=new)


def commented_passages(order: Order, old: Version, new: Version) -> list[dict]:
    """Each comment on the old version, and whether its passage changed in the new one.

    A passage counts as changed when its exact words (ignoring case and spacing) no longer appear in
    the new version."""
    if not (new.extraction and new.extraction.ok):
        return []
    new_text = redlines.normalise("\n".join(reader.block_text(b) for b in new.extraction.blocks))
    comments = Comment.objects.filter(order=order, asset=old.asset, parent__isnull=True).exclude(quote="")
    return [{"comment": comment, "changed": redlines.normalise(comment.quote) not in new_text} for comment in comments]


# --- Comments -------------------------------------------------------------------------------------


def _count_in_window(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def check_rate_limit(user) -> None:
    """The chat's limit (CHAT_RATE_LIMIT_*), counted apart from chat messages, in the shared cache."""
    window = settings.CHAT_RATE_LIMIT_WINDOW_SECONDS
    bucket = int(timezone.now().timestamp()) // window
    if _count_in_window(f"documents:comments:{user.pk}:{bucket}", window + 5) > settings.CHAT_RATE_LIMIT_COUNT:
        raise RateLimited(
            f"You are commenting too quickly. Please wait a moment (limit: {settings.CHAT_RATE_LIMIT_COUNT} "
            f"per {window} seconds)."
        )


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not body:
        raise DomainError("Write a comment first.")
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > limit:
        raise DomainError(f"A comment can be at most {limit} characters long (yours has {len(body)}).")
    return body


def _check_party(order: Order, actor) -> None:
    if actor is None or actor.pk not in (order.client_id, order.coach_id):
        raise NotPermitted("Only the client and the coach of this order can comment on its documents.")


def add_comment(
    order: Order, *, actor, version: Version, block: int, quote: str, body: str, ip_address: str | None = None
) -> Comment:
    """Comment on a passage: the quote must be words of that block of that version."""
    _check_party(order, actor)
    body = _clean_body(body)
    quote = " ".join((quote or "").split())
    extraction = version.extraction
    if extraction is None or not extraction.ok or not 0 <= block < len(extraction.blocks):
        raise DomainError("Select a passage of the document to comment on.")
    if (
        not quote
        or len(quote) > 1000
        or redlines.normalise(quote) not in redlines.normalise(reader.block_text(extraction.blocks[block]))
    ):
        raise DomainError("Select a passage of one paragraph (up to 1,000 characters) to comment on.")
    check_rate_limit(actor)
    with transaction.atomic():
        comment = Comment.objects.create(
            order=order, asset=version.asset, author=actor, block=block, quote=quote, body=body
        )
        audit("documents.comment", comment, actor=actor, details={"order": order.pk}, ip_address=ip_address)
    return comment


def reply(comment: Comment, *, actor, body: str, ip_address: str | None = None) -> Comment:
    _check_party(comment.order, actor)
    if comment.parent_id is not None:
        raise DomainError("Reply to the comment itself.")
    body = _clean_body(body)
    check_rate_limit(actor)
    with transaction.atomic():
        answer = Comment.objects.create(
            order=comment.order, asset=comment.asset, author=actor, parent=comment, block=comment.block, body=body
        )
        audit("documents.reply", answer, actor=actor, details={"order": comment.order_id}, ip_address=ip_address)
    return answer


def resolve(comment: Comment, *, actor, resolved: bool = True, ip_address: str | None = None) -> Comment:
    """Either party marks a comment resolved (or open again)."""
    _check_party(comment.order, actor)
    if comment.parent_id is not None:
        raise DomainError("Only a comment, not a reply, is resolved.")
    with transaction.atomic():
        locked = Comment.objects.select_for_update().get(pk=comment.pk)
        locked.resolved_at = timezone.now() if resolved else None
        locked.resolved_by = actor if resolved else None
        locked.save(update_fields=["resolved_at", "resolved_by", "updated_at"])
        audit("documents.resolve" if resolved else "documents.reopen", locked, actor=actor, ip_address=ip_address)
    return locked


def open_comments(order: Order) -> list[Comment]:
    return list(
        Comment.objects.filter(order=order, parent__isnull=True, resolved_at__isnull=True)
        .exclude(quote="")
        .select_related("asset")
        .order_by("created_at", "id")
    )


def revision_checklist(comments: list[Comment], note: str = "") -> str:
    lines = [note.strip()] if note.strip() else []
    lines.append("Please work through these comments:")
    for n, comment in enumerate(comments, start=1):
        quote = comment.quote if len(comment.quote) <= 120 else comment.quote[:117] + "…"
        lines.append(f"{n}. “{quote}” — {comment.body}")
    return "\n".join(lines)


def request_revision_from_comments(order: Order, *, actor, note: str = "", ip_address: str | None = None) -> Order:
    """The client sends the open comments as the checklist of a revision request (orders' own move)."""
    comments = open_comments(order)
    if not comments:
        raise InvalidState("There are no open comments to send. Comment on a passage first.")
    text = revision_checklist(comments, note)
    if len(text) > settings.CHAT_MAX_MESSAGE_LENGTH * 3:
        raise DomainError("These comments are too long for one revision request; resolve some first.")
    with transaction.atomic():
        updated = order_services.request_revision(order.pk, actor=actor, note=text)
        Comment.objects.filter(pk__in=[c.pk for c in comments]).update(sent_in_revision_at=timezone.now())
        audit(
            "documents.revision_from_comments",
            order,
            actor=actor,
            details={"comments": len(comments)},
            ip_address=ip_address,
        )
    return updated


# --- Job descriptions -----------------------------------------------------------------------------


def add_job_description(order: Order, *, actor, title: str, text: str, ip_address: str | None = None) -> JobDescription:
    """The client adds a target job; its text is checked for length before anything is saved."""
    if actor is None or actor.pk != order.client_id:
        raise NotPermitted("Only the client adds target jobs to an order.")
    text = (text or "").replace("\x00", "").strip()
    title = " ".join((title or "").split())[:160] or "Target job"
    if not text:
        raise DomainError("Paste the text of the job description first.")
    limit = settings.DOCUMENTS_JOB_MAX_CHARS
    if len(text) > limit:
        raise DomainError(
            f"A job description can be at most {limit:,} characters long (yours has {len(text):,}). "
            "Paste the part with the requirements."
        )
    if JobDescription.objects.filter(order=order).count() >= settings.DOCUMENTS_MAX_JOBS:
        raise InvalidState(f"An order can hold {settings.DOCUMENTS_MAX_JOBS} target jobs. Remove one first.")
    with transaction.atomic():
        job = JobDescription.objects.create(order=order, author=actor, title=title, text=text)
        audit("documents.job_added", job, actor=actor, details={"order": order.pk}, ip_address=ip_address)
    return job


def remove_job_description(job: JobDescription, *, actor, ip_address: str | None = None) -> None:
    if actor is None or actor.pk != job.order.client_id:
        raise NotPermitted("Only the client removes target jobs.")
    with transaction.atomic():
        audit("documents.job_removed", job, actor=actor, details={"order": job.order_id}, ip_address=ip_address)
        job.delete()


# --- Retention ------------------------------------------------------------------------------------


def purge_expired(now=None) -> int:
    """Delete the text, comments and job descriptions of orders finished DOCUMENTS_RETENTION_DAYS ago.

    Returns how many orders were purged. Idempotent: a second run finds nothing left."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.DOCUMENTS_RETENTION_DAYS)
    finished = Order.objects.filter(
        Q(status=OrderStatus.COMPLETED, completed_at__lt=cutoff)
        | Q(status=OrderStatus.CANCELLED, cancelled_at__lt=cutoff)
    )
    holding_data = (
        Q(document_comments__isnull=False)
        | Q(job_descriptions__isnull=False)
        | Q(deliveries__files__extraction__isnull=False)
        | Q(request__attachments__extraction__isnull=False)
    )
    ids = sorted(set(finished.filter(holding_data).values_list("pk", flat=True)))
    for order_id in ids:
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=order_id)
            assets = list(order.request.attachments.values_list("pk", flat=True)) + list(
                FileAsset.objects.filter(deliveries__order=order).values_list("pk", flat=True)
            )
            Extraction.objects.filter(asset_id__in=assets).delete()  # redlines go with them (cascade)
            Comment.objects.filter(order=order).delete()
            JobDescription.objects.filter(order=order).delete()
            audit("documents.purged", order, details={"files": len(assets)})
    return len(ids)
