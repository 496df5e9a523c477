"""Every change to documents' tables goes through here: extractions, redlines, comments, job
descriptions, and the retention notice and purge. Text is personal data: no function here logs it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.services import record as audit
from core import sqlmemo
from core.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from files import services as file_services
from files.models import FileAsset, FileCategory, ScanStatus
from notifications.services import notify
from orders import services as order_services
from orders.models import Delivery, Order, OrderStatus
from requests_app import services as request_services
from requests_app.models import ServiceRequest

from . import extraction as reader
from . import redline as redlines
from .models import Comment, Extraction, ExtractionStatus, JobDescription, OrderRetention, Redline

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


def _originals(given) -> QuerySet:
    """The client's CVs attached to the order's request (what order.request.attachments.live() reads)."""
    originals = FileAsset.objects.live().filter(service_requests=given["request"], category=FileCategory.CV_UPLOAD)
    return originals.select_related("extraction").order_by("created_at", "id")


def _delivered_files(given) -> QuerySet:
    """Every live file of the order's deliveries, by delivery number, then oldest first."""
    links = Delivery.files.through.objects.filter(delivery__order_id=given["order"], fileasset__deleted_at__isnull=True)
    return links.select_related("delivery", "fileasset__extraction").order_by(
        "delivery__number", "fileasset__created_at", "fileasset_id"
    )


def versions(order: Order, *, delivered: bool | None = None) -> list[Version]:
    """The client's original documents, then every delivery's files, oldest first (two queries; one when the
    caller knows the order has no delivery: `delivered=False`, the order page, which read them).

    Compiled once per process and kept prepared (core.sqlmemo; lookups by the request's and the order's id,
    a few rows each): the order page shows this panel, and on a miss built these querysets each time."""
    originals: list[Any] = sqlmemo.instances(
        "documents: originals", _originals, {"request": order.request_id}, prepare=True
    )
    found = [
        Version(f"o{n}", f"Your original: {asset.original_name}", asset, _extraction_of(asset))
        for n, asset in enumerate(originals, start=1)
    ]
    if delivered is False:
        return found
    links: list[Any] = sqlmemo.instances(
        "documents: delivered files", _delivered_files, {"order": order.pk}, prepare=True
    )
    slots: dict[int, int] = {}
    for link in links:
        number, asset = link.delivery.number, link.fileasset
        slots[number] = slot = slots.get(number, 0) + 1
        label = f"Delivery {number}: {asset.original_name}"
        found.append(Version(f"d{number}.{slot}", label, asset, _extraction_of(asset)))
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


def finished_at(order: Order):
    """When the order's retention period started: its completion, or its cancellation (else None)."""
    if order.status == OrderStatus.COMPLETED:
        return order.completed_at
    if order.status == OrderStatus.CANCELLED:
        return order.cancelled_at
    return None


@dataclass
class RetentionState:
    """What the order page says about the deletion of this order's documents."""

    days: int
    notice_days: int
    delete_on: datetime
    warn_from: datetime
    purged_at: datetime | None
    deleted: dict

    @property
    def warning_due(self) -> bool:
        return self.purged_at is None and timezone.now() >= self.warn_from


def _retention_row(given) -> QuerySet:
    return OrderRetention.objects.filter(order_id=given["order"])[:1]  # one row per order at most


def retention_state(order: Order) -> RetentionState | None:
    """None while the order is open. Deletion never comes sooner than the notice period after the
    warning went out, so a late warning moves the date (and the page says the new one)."""
    started = finished_at(order)
    if started is None:
        return None
    # Compiled once per process and kept prepared (core.sqlmemo; by the order's unique row): every finished order's
    # page asks it, and on a miss built and compiled this queryset each time (issue 13).
    row: OrderRetention | None
    if Order.document_retention.is_cached(order):  # joined: the order page's read (orders.pages)
        row = cast(OrderRetention | None, Order.document_retention.related.get_cached_value(order))
    else:
        found: list[Any] = sqlmemo.instances("documents: retention", _retention_row, {"order": order.pk}, prepare=True)
        row = found[0] if found else None
    days = row.retention_days if row and row.purged_at else settings.DOCUMENTS_RETENTION_DAYS
    notice = timedelta(days=settings.DOCUMENTS_RETENTION_WARNING_DAYS)
    delete_on = started + timedelta(days=days)
    if row and row.warned_at:
        delete_on = max(delete_on, row.warned_at + notice)
    return RetentionState(
        days=days,
        notice_days=settings.DOCUMENTS_RETENTION_WARNING_DAYS,
        delete_on=row.purged_at if row and row.purged_at else delete_on,
        warn_from=delete_on - notice,
        purged_at=row.purged_at if row else None,
        deleted=row.deleted if row else {},
    )


def _finished_before(moment) -> QuerySet[Order]:
    return Order.objects.filter(
        Q(status=OrderStatus.COMPLETED, completed_at__lt=moment)
        | Q(status=OrderStatus.CANCELLED, cancelled_at__lt=moment)
    )


# An order still holding documents: live files of its request or deliveries, texts, comments, jobs.
_HOLDING_DATA = (
    Q(request__attachments__deleted_at__isnull=True, request__attachments__isnull=False)
    | Q(deliveries__files__deleted_at__isnull=True, deliveries__files__isnull=False)
    | Q(document_comments__isnull=False)
    | Q(job_descriptions__isnull=False)
    | ~Q(request__job_description="")
)


def warn_before_purge(now=None) -> int:
    """Tell the client and the coach, DOCUMENTS_RETENTION_WARNING_DAYS ahead, that an order's documents
    will be deleted, so they can download them first. Once per order (the row's `warned_at`, under its
    lock); returns how many orders were announced."""
    now = now or timezone.now()
    notice = settings.DOCUMENTS_RETENTION_WARNING_DAYS
    warn_before = now - timedelta(days=settings.DOCUMENTS_RETENTION_DAYS - notice)
    due = (
        _finished_before(warn_before)
        .filter(_HOLDING_DATA)
        .exclude(document_retention__warned_at__isnull=False)
        .values_list("pk", flat=True)
    )
    warned = 0
    for order_id in sorted(set(due)):
        with transaction.atomic():
            row = _locked_retention(order_id)
            if row.warned_at is not None:
                continue  # another run got there first
            row.warned_at = now
            row.save(update_fields=["warned_at", "updated_at"])
            state = retention_state(row.order)
            if state is not None:  # always: it was found finished, and a finished order stays finished
                _announce_deletion(row.order, state)
            warned += 1
    return warned


def _announce_deletion(order: Order, state: RetentionState) -> None:
    for person in (order.client, order.coach):
        notify(
            person,
            "documents_retention",
            f"The documents of your order “{order.title}” will be deleted on {state.delete_on:%d %B %Y}, "
            f"{state.days} days after it ended. Download what you want to keep first: the files on the "
            "order page, or everything with “Export my data”.",
            link=reverse("orders:detail", args=[order.pk]),
            context={"delete_on": f"{state.delete_on:%d %B %Y}"},
        )
    audit("documents.retention_warned", order, details={"delete_on": state.delete_on.date().isoformat()})


def _locked_retention(order_id: int) -> OrderRetention:
    order = Order.objects.select_for_update().select_related("client", "coach", "request").get(pk=order_id)
    row, _ = OrderRetention.objects.get_or_create(
        order=order, defaults={"retention_days": settings.DOCUMENTS_RETENTION_DAYS}
    )
    row = OrderRetention.objects.select_for_update().get(pk=row.pk)
    row.order = order
    return row


def purge_expired(now=None) -> int:
    """Delete the documents of orders finished DOCUMENTS_RETENTION_DAYS ago whose parties were told at
    least DOCUMENTS_RETENTION_WARNING_DAYS before: the files themselves (storage too), their texts and
    redlines, comments, target jobs (the request's too). What was deleted is recorded on the order's
    retention row and in the audit log. Returns how many orders were purged; a second run finds none."""
    now = now or timezone.now()
    due = (
        _finished_before(now - timedelta(days=settings.DOCUMENTS_RETENTION_DAYS))
        .filter(_HOLDING_DATA)
        .filter(document_retention__warned_at__lte=now - timedelta(days=settings.DOCUMENTS_RETENTION_WARNING_DAYS))
        .filter(document_retention__purged_at__isnull=True)
        .values_list("pk", flat=True)
    )
    purged = 0
    for order_id in sorted(set(due)):
        with transaction.atomic():
            row = _locked_retention(order_id)
            if row.purged_at is not None:
                continue
            row.deleted = _delete_documents(row.order, now)
            row.purged_at = now
            row.retention_days = settings.DOCUMENTS_RETENTION_DAYS
            row.save(update_fields=["deleted", "purged_at", "retention_days", "updated_at"])
            audit("documents.purged", row.order, details={**row.deleted, "retention_days": row.retention_days})
            purged += 1
    return purged


def _delete_documents(order: Order, now) -> dict[str, int]:
    """Everything documents holds for one order, and the files it was read from. A CV also attached to
    another request whose order is still within its period (or has no order) is kept, with its text."""
    cutoff = now - timedelta(days=settings.DOCUMENTS_RETENTION_DAYS)
    still_needed = ServiceRequest.objects.exclude(pk=order.request_id).exclude(order__in=_finished_before(cutoff))
    originals = set(order.request.attachments.values_list("pk", flat=True))
    shared = set(
        FileAsset.objects.filter(pk__in=originals, service_requests__in=still_needed).values_list("pk", flat=True)
    )
    delivered = set(FileAsset.objects.filter(deliveries__order=order).values_list("pk", flat=True))
    assets = (originals - shared) | delivered
    _, texts = Extraction.objects.filter(asset_id__in=assets).delete()  # redlines go with them (cascade)
    comments, _ = Comment.objects.filter(order=order).delete()
    jobs, _ = JobDescription.objects.filter(order=order).delete()
    return {
        "files": file_services.erase(assets, reason="documents_retention"),
        "texts": texts.get("documents.Extraction", 0),
        "redlines": texts.get("documents.Redline", 0),
        "comments": comments,
        "job_descriptions": jobs + int(request_services.forget_job_description(order.request)),
    }


# --- Job description carried from the request -----------------------------------------------------


def carry_request_job(order: Order) -> JobDescription | None:
    """The target job the client pasted on the request becomes the order's first job (once)."""
    service_request = order.request
    if not service_request.job_description:
        return None
    existing = JobDescription.objects.filter(order=order, from_request=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return JobDescription.objects.create(
                order=order,
                author=order.client,
                title=service_request.job_title or "Target job",
                text=service_request.job_description,
                from_request=True,
            )
    except IntegrityError:  # a second delivery of the signal
        return JobDescription.objects.get(order=order, from_request=True)
