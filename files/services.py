"""Every change to an uploaded file goes through here: store, scan verdicts, rescan, delete.

Uploads are validated by content (files.validation), hashed while streaming in chunks, and
saved through Django's storage API under a generated key (local folder or S3 alike). Every
upload starts `pending`; a Celery task scans it after commit.

Signature: what a person does takes the instance it acts on and names them:
`verb(target, *, actor, …, ip_address=None)` (store_upload's target is the uploaded file). The scan
pipeline (Celery tasks, jobs) acts as the system: it takes the asset's id, locks it, and has no actor.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Iterable
from datetime import timedelta
from typing import IO

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import User
from audit.services import record as audit
from core.exceptions import DomainError, InvalidState, NotPermitted
from notifications.services import notify

from . import validation
from .models import Avatar, DataExport, ExportStatus, FileAsset, FileCategory, ScanStatus
from .scanner import ScannerUnavailable, Verdict, get_scanner
from .signals import file_scanned_clean

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
MAX_ATTACHMENTS = 10


def storage_kind() -> str:
    return settings.FILE_STORAGE_KIND


def generate_key(extension: str) -> str:
    now = timezone.now()
    return f"uploads/{now:%Y}/{now:%m}/{uuid.uuid4().hex}{extension}"


def _hash_and_size(fileobj) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def _limit_mb() -> str:
    mb = settings.FILE_UPLOAD_MAX_BYTES / (1024 * 1024)
    return f"{mb:g} MB"


def store_upload(uploaded_file: UploadedFile, *, actor: User, category: str) -> FileAsset:
    """Validate an upload by its content, store it under a generated key and schedule its scan.

    Raises DomainError (400) for an empty file, validation.FileTooLarge (413) over
    FILE_UPLOAD_MAX_BYTES and validation.UnsupportedFileType (415) for any other type.
    Nothing is stored when it raises.
    """
    owner = actor
    if category not in FileCategory.values:
        raise DomainError("Unknown upload category.")
    if owner is None or not owner.is_authenticated:
        raise NotPermitted("Sign in to upload files.")
    if category == FileCategory.DELIVERY and owner.role != "coach":
        raise NotPermitted("Only coaches upload deliveries.")
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > settings.FILE_UPLOAD_MAX_BYTES:
        raise validation.FileTooLarge(f"This file is too large. The limit is {_limit_mb()}.")
    sha256, size = _hash_and_size(uploaded_file)
    if size == 0:
        raise DomainError("This file is empty.")
    if size > settings.FILE_UPLOAD_MAX_BYTES:
        raise validation.FileTooLarge(f"This file is too large. The limit is {_limit_mb()}.")

    content: File | IO[bytes] = uploaded_file
    if category == FileCategory.AVATAR:
        content, detected = validation.reencode_image(uploaded_file)
        sha256, size = _hash_and_size(content)
    else:
        detected = validation.detect_document(uploaded_file)

    name = validation.display_name(getattr(uploaded_file, "name", ""), extension=detected.extension)
    key = default_storage.save(generate_key(detected.extension), File(content, name=name))
    try:
        with transaction.atomic():
            asset = FileAsset.objects.create(
                owner=owner,
                storage=storage_kind(),
                key=key,
                original_name=name,
                content_type=detected.content_type,
                size=size,
                sha256=sha256,
                category=category,
            )
            transaction.on_commit(lambda: _schedule_scan(asset.pk))
    except Exception:
        default_storage.delete(key)
        raise
    logger.info("stored upload %s (%s, %d bytes) for user %s", asset.pk, detected.content_type, size, owner.pk)
    return asset


def _schedule_scan(asset_id: int) -> None:
    from .tasks import scan_file

    scan_file.delay(asset_id)


def assets_for_attach(user: User, ids: Iterable[int | str], category: str) -> list[FileAsset]:
    """The user's own live uploads with these ids, for attaching to a request, delivery or message.

    Any id that is not one of the user's live uploads of this category (someone else's, deleted,
    quarantined, malformed) raises ValidationError, so nothing is attached by accident.
    """
    wanted: list[int] = []
    for raw in ids:
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except (TypeError, ValueError) as exc:
            raise ValidationError("Invalid attachment.") from exc
        if value not in wanted:
            wanted.append(value)
    if len(wanted) > MAX_ATTACHMENTS:
        raise ValidationError(f"Attach at most {MAX_ATTACHMENTS} files.")
    if not wanted:
        return []
    found = {
        asset.pk: asset
        for asset in FileAsset.objects.live()
        .filter(owner=user, category=category, pk__in=wanted)
        .exclude(scan_status=ScanStatus.INFECTED)
    }
    if len(found) != len(wanted):
        raise ValidationError("One of the attached files is not available. Upload it again.")
    return [found[pk] for pk in wanted]


# --- Scanning ------------------------------------------------------------------------------


def scan(asset_id: int) -> FileAsset | None:
    """Scan one pending upload and record the verdict. Raises ScannerUnavailable to be retried."""
    asset = FileAsset.objects.filter(pk=asset_id).first()
    if asset is None or asset.deleted_at is not None or asset.scan_status != ScanStatus.PENDING:
        return asset
    scanner = get_scanner()
    try:
        with default_storage.open(asset.key, "rb") as fileobj:
            verdict = scanner.scan(fileobj)
    except FileNotFoundError as exc:
        raise ScannerUnavailable(f"stored file {asset.key} is missing") from exc
    return record_verdict(asset_id, verdict)


def record_verdict(asset_id: int, verdict: Verdict) -> FileAsset:
    with transaction.atomic():
        asset = FileAsset.objects.select_for_update().get(pk=asset_id)
        if asset.scan_status != ScanStatus.PENDING:
            return asset
        asset.scanned_at = timezone.now()
        asset.scan_detail = verdict.detail[:255]
        if not verdict.infected:
            asset.scan_status = ScanStatus.CLEAN
            asset.save(update_fields=["scan_status", "scan_detail", "scanned_at", "updated_at"])
            clean_id, category = asset.pk, asset.category
            transaction.on_commit(
                lambda: file_scanned_clean.send(sender=FileAsset, asset_id=clean_id, category=category)
            )
            return asset
        asset.scan_status = ScanStatus.INFECTED
        asset.save(update_fields=["scan_status", "scan_detail", "scanned_at", "updated_at"])
        audit("file.quarantined", asset, details={"signature": verdict.detail, "sha256": asset.sha256})
        _notify_infected(asset)
        transaction.on_commit(lambda: _schedule_removal(asset.pk))
    logger.warning("upload %s is infected (%s): quarantined", asset.pk, verdict.detail)
    return asset


def _notify_infected(asset: FileAsset) -> None:
    notify(
        asset.owner,
        "file_infected",
        f"Your file “{asset.original_name}” was flagged by our virus scanner and removed. "
        "Please scan your computer and upload a clean copy.",
        link=reverse("files:list"),
    )
    for staff in _staff().exclude(pk=asset.owner_id):
        notify(
            staff,
            "file_infected_staff",
            f"Upload #{asset.pk} by {asset.owner.email} was infected ({asset.scan_detail}) and was quarantined.",
            link=_admin_link(asset),
        )


def _staff():
    return apps.get_model(settings.AUTH_USER_MODEL).objects.filter(role="admin", is_active=True)


def _admin_link(asset: FileAsset) -> str:
    try:
        return reverse("admin:files_fileasset_change", args=[asset.pk])
    except NoReverseMatch:  # the console has not registered FileAsset
        return reverse("admin:index")


def mark_scan_error(asset_id: int, detail: str) -> FileAsset:
    """Retries are exhausted: the file stays undownloadable until staff re-run the scan."""
    with transaction.atomic():
        asset = FileAsset.objects.select_for_update().get(pk=asset_id)
        if asset.scan_status != ScanStatus.PENDING:
            return asset
        asset.scan_status = ScanStatus.ERROR
        asset.scan_detail = detail[:255]
        asset.scanned_at = timezone.now()
        asset.save(update_fields=["scan_status", "scan_detail", "scanned_at", "updated_at"])
        audit("file.scan_error", asset, details={"detail": detail[:500]})
        # In-app only: when clamd is down many files fail at once, and staff need one look, not 100 emails.
        for staff in _staff().exclude(pk=asset.owner_id):
            notify(
                staff,
                "file_scan_error",
                f"Upload #{asset.pk} could not be scanned for viruses ({detail[:120]}). Fix the scanner, then re-run the scan.",
                link=_admin_link(asset),
                email=False,
            )
    logger.error("scan of upload %s failed for good: %s", asset_id, detail)
    return asset


def rescan(asset: FileAsset, *, actor: User, ip_address: str | None = None) -> FileAsset:
    """Staff re-run the scan of a file whose scan failed (or is stuck pending)."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can re-run a virus scan.")
    with transaction.atomic():
        locked = FileAsset.objects.select_for_update().get(pk=asset.pk)
        if locked.deleted_at is not None:
            raise InvalidState("This file was deleted.")
        if locked.scan_status not in (ScanStatus.ERROR, ScanStatus.PENDING):
            raise InvalidState(f"This file's scan is already final ({locked.get_scan_status_display().lower()}).")
        previous = locked.scan_status
        locked.scan_status = ScanStatus.PENDING
        locked.scan_detail = ""
        locked.save(update_fields=["scan_status", "scan_detail", "updated_at"])
        audit("file.rescan", locked, actor=actor, details={"previous": previous}, ip_address=ip_address)
        transaction.on_commit(lambda: _schedule_scan(locked.pk))
    return locked


# --- Avatars ---------------------------------------------------------------------------------


def set_avatar(user: User, uploaded_file: UploadedFile, *, actor: User) -> FileAsset:
    """Store a new profile photo (re-encoded, metadata stripped) and make it the user's avatar.

    The previous photo is deleted. The avatar is public (shown on profiles) once its scan is clean.
    """
    _check_own_avatar(user, actor)
    asset = store_upload(uploaded_file, actor=actor, category=FileCategory.AVATAR)
    _replace_avatar(user, asset)
    return asset


def remove_avatar(user: User, *, actor: User) -> None:
    _check_own_avatar(user, actor)
    _replace_avatar(user, None)


def _check_own_avatar(user: User, actor: User) -> None:
    if actor is None or actor.pk != user.pk:
        raise NotPermitted("You can only change your own profile photo.")


def _replace_avatar(user: User, asset: FileAsset | None) -> None:
    """Point the user's Avatar row at `asset` (or drop it), then retire the previous photo.

    The row is locked, so two uploads at once leave one avatar and delete the other photo."""
    with transaction.atomic():
        current = Avatar.objects.select_for_update().filter(user_id=user.pk).first()
        previous_id = current.asset_id if current else None
        if asset is None:
            if current:
                current.delete()
            user.avatar = None
        elif current:
            current.asset = asset
            current.save(update_fields=["asset", "updated_at"])
            user.avatar = current
        else:
            user.avatar = Avatar.objects.create(user_id=user.pk, asset=asset)
        if previous_id and (asset is None or previous_id != asset.pk):
            FileAsset.objects.filter(pk=previous_id, deleted_at__isnull=True).update(deleted_at=timezone.now())
            transaction.on_commit(lambda: _schedule_removal(previous_id))


def avatar_of(user: User) -> FileAsset | None:
    """The user's current photo, whatever its scan says (None without one); no query once
    `avatar__asset` is select_related."""
    link = getattr(user, "avatar", None)
    return link.asset if link is not None else None


def public_avatar(user_id: int) -> FileAsset | None:
    """A user's current avatar if it may be shown to anyone: live and scanned clean."""
    return (
        FileAsset.objects.clean()
        .filter(pk__in=Avatar.objects.filter(user_id=user_id, user__is_active=True).values("asset_id"))
        .filter(category=FileCategory.AVATAR)
        .first()
    )


# --- Deleting --------------------------------------------------------------------------------


def is_delivered(asset: FileAsset) -> bool:
    """Part of a delivery or of a dispute statement: kept for the order's lifetime, whoever asks."""
    return asset.deliveries.exists() or asset.dispute_statements.exists()


def delete_upload(asset: FileAsset, *, actor: User) -> FileAsset:
    """The owner removes an upload: hidden now, removed from storage by a job after commit."""
    if actor is None or actor.pk != asset.owner_id:
        raise NotPermitted("You can only delete your own files.")
    with transaction.atomic():
        locked = FileAsset.objects.select_for_update().get(pk=asset.pk)
        if locked.deleted_at is not None:
            raise InvalidState("This file was already deleted.")
        if is_delivered(locked):
            raise InvalidState("Delivered files are kept for the order's lifetime and cannot be deleted.")
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at", "updated_at"])
        transaction.on_commit(lambda: _schedule_removal(locked.pk))
    return locked


def _schedule_removal(asset_id: int) -> None:
    from .tasks import remove_from_storage

    remove_from_storage.delay(asset_id)


def remove_stored(asset_id: int) -> bool:
    """Remove a deleted (or quarantined) upload's bytes from storage. Idempotent."""
    asset = FileAsset.objects.filter(pk=asset_id).first()
    if asset is None or (asset.deleted_at is None and asset.scan_status != ScanStatus.INFECTED):
        return False
    default_storage.delete(asset.key)
    return True


def requeue_stale_scans(*, older_than_minutes: int) -> int:
    """Scans whose task was lost (a worker died, the broker was down) are scheduled again.

    A file stays pending, and undownloadable, until a scanner has really looked at it.
    """
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    stale = list(
        FileAsset.objects.live()
        .filter(scan_status=ScanStatus.PENDING, updated_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    if stale:
        FileAsset.objects.filter(pk__in=stale).update(updated_at=timezone.now())
        for asset_id in stale:
            _schedule_scan(asset_id)
        logger.warning("re-queued %d stale virus scans", len(stale))
    return len(stale)


def sweep_orphans(*, older_than_minutes: int = 60, months: int = 2) -> int:
    """Remove stored bytes that no FileAsset row names (an upload whose caller's transaction rolled
    back after storing). Looks at the latest `months` key prefixes only, and spares fresh files whose
    row may still be on its way."""
    now = timezone.now()
    cutoff = now - timedelta(minutes=older_than_minutes)
    year, month = now.year, now.month
    removed = 0
    for _ in range(months):
        prefix = f"uploads/{year:04d}/{month:02d}"
        try:
            _dirs, names = default_storage.listdir(prefix)
        except FileNotFoundError:
            names = []
        keys = [f"{prefix}/{name}" for name in names]
        known = set(FileAsset.objects.filter(key__in=keys).values_list("key", flat=True))
        for key in keys:
            if key not in known and default_storage.get_modified_time(key) < cutoff:
                default_storage.delete(key)
                removed += 1
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    if removed:
        logger.warning("removed %d orphaned uploads from storage", removed)
    return removed


# --- Erasing at the end of a retention period --------------------------------------------------------


def erase(asset_ids: Iterable[int], *, reason: str, actor: User | None = None, ip_address: str | None = None) -> int:
    """Delete files for good, whatever their category (the retention jobs, expired exports): hidden now,
    their bytes removed from storage by a job after commit, one audit row per file. Returns how many
    were erased; files already deleted are skipped, so a second run erases nothing."""
    with transaction.atomic():
        assets = list(FileAsset.objects.select_for_update().filter(pk__in=list(asset_ids), deleted_at__isnull=True))
        now = timezone.now()
        for asset in assets:
            asset.deleted_at = now
            asset.save(update_fields=["deleted_at", "updated_at"])
            audit(
                "files.erased",
                asset,
                actor=actor,
                details={"reason": reason, "category": asset.category, "size": asset.size},
                ip_address=ip_address,
            )
        erased = [asset.pk for asset in assets]

        def remove_bytes() -> None:
            for pk in erased:
                _schedule_removal(pk)

        transaction.on_commit(remove_bytes)
    return len(erased)


# --- Data export ---------------------------------------------------------------------------------


def latest_export(user: User) -> DataExport | None:
    return DataExport.objects.filter(user=user).select_related("asset").first()


def request_export(user: User, *, actor: User, ip_address: str | None = None) -> DataExport:
    """The user asks for a copy of their data: a ZIP built by a Celery task after commit. While one is
    being built, asking again returns that one (the page says so) instead of queueing a second."""
    if actor is None or actor.pk != user.pk:
        raise NotPermitted("You can only export your own data.")
    building = DataExport.objects.filter(user=user, status=ExportStatus.BUILDING).first()
    if building is not None and building.created_at > timezone.now() - timedelta(hours=1):
        return building
    if building is not None:  # its task was lost (a worker died): give up on it, build a new one
        DataExport.objects.filter(pk=building.pk).update(status=ExportStatus.FAILED, failure="not finished in time")
    try:
        with transaction.atomic():
            export = DataExport.objects.create(user=user)
            audit("files.export_requested", export, actor=actor, ip_address=ip_address)
            transaction.on_commit(lambda: _schedule_export(export.pk))
    except IntegrityError:  # a double click: the other request created it
        return DataExport.objects.get(user=user, status=ExportStatus.BUILDING)
    return export


def _schedule_export(export_id: int) -> None:
    from .tasks import build_export

    build_export.delay(export_id)


def build_export(export_id: int) -> DataExport | None:
    """Write the ZIP of every registered section plus the user's files, store it as the user's own
    file and tell them. Idempotent: an export that is no longer being built is left as it is."""
    export = DataExport.objects.filter(pk=export_id, status=ExportStatus.BUILDING).select_related("user").first()
    if export is None:
        return None
    user = export.user
    try:
        with tempfile.TemporaryFile() as spool:
            _write_zip(user, spool)
            asset = _store_export(user, spool)
    except Exception as exc:  # noqa: BLE001 - recorded and shown; the user may ask again
        logger.warning("data export %s failed: %s", export.pk, type(exc).__name__)
        DataExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, failure=type(exc).__name__[:200], finished_at=timezone.now()
        )
        return DataExport.objects.get(pk=export.pk)
    with transaction.atomic():
        updated = DataExport.objects.filter(pk=export.pk, status=ExportStatus.BUILDING).update(
            status=ExportStatus.READY, asset=asset, finished_at=timezone.now(), updated_at=timezone.now()
        )
        if updated:
            notify(
                user,
                "data_export_ready",
                f"Your data export is ready to download for {settings.FILE_EXPORT_DAYS} days.",
                link=reverse("accounts:profile") + "#data-export",
            )
    return DataExport.objects.get(pk=export.pk)


def _write_zip(user: User, spool: IO[bytes]) -> None:
    from . import exports

    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _EXPORT_README.format(email=user.email, when=timezone.now()))
        for name, section in exports.sections().items():
            for path, content in section(user):
                archive.writestr(f"{name}/{path}", content)
        for asset in exports.exportable_files(user):
            with default_storage.open(asset.key, "rb") as source, archive.open(exports.file_path(asset), "w") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)


_EXPORT_README = """Your data at Elite Writing Services ({email}), exported {when:%Y-%m-%d %H:%M} UTC.

account/  your profile; files.json lists every file below
files/    the files you uploaded and, as a client, the files delivered to you
requests/ orders/ messages/ documents/  what you wrote there, as JSON (and the text we read from your files)
coaches/  as a coach, your public profile and the services you offer

Only your own data is here: other people's messages and comments are not.
"""


def _store_export(user: User, spool: IO[bytes]) -> FileAsset:
    sha256, size = _hash_and_size(spool)
    key = generate_key(".zip")
    stored_key = default_storage.save(key, File(spool, name=key))
    return FileAsset.objects.create(
        owner=user,
        storage=storage_kind(),
        key=stored_key,
        original_name=f"elite-data-export-{timezone.now():%Y-%m-%d}.zip",
        content_type="application/zip",
        size=size,
        sha256=sha256,
        category=FileCategory.DATA_EXPORT,
        # Built by us from files that had already passed the scan, and only for their owner.
        scan_status=ScanStatus.CLEAN,
        scan_detail="built by the export job",
        scanned_at=timezone.now(),
    )


def expire_exports(*, now=None) -> int:
    """Export ZIPs are erased FILE_EXPORT_DAYS after they were built (a beat job)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FILE_EXPORT_DAYS)
    ids = (
        FileAsset.objects.live()
        .filter(category=FileCategory.DATA_EXPORT, created_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    return erase(list(ids), reason="export_expired")
