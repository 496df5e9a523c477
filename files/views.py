"""Upload, list, poll, download and delete files. Thin: rules live in files.services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseForbidden, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST, require_safe
from django_ratelimit.core import is_ratelimited

from core.exceptions import DomainError, InvalidState, RateLimited
from core.http import client_ip

from . import downloads, services
from .models import ExportStatus, FileAsset, FileCategory, ScanStatus

UPLOAD_CATEGORIES = {
    FileCategory.CV_UPLOAD,
    FileCategory.DELIVERY,
    FileCategory.MESSAGE_ATTACHMENT,
    FileCategory.AVATAR,
    FileCategory.DISPUTE_EVIDENCE,
}
STREAM_CHUNK = 64 * 1024
# Uploads per user (django-ratelimit counts in the shared cache, so it holds across web machines).
UPLOAD_RATE = "120/h"


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def asset_json(asset: FileAsset) -> dict:
    download = reverse("files:download", args=[asset.pk])
    return {
        "id": asset.pk,
        "name": asset.original_name,
        "size": asset.size,
        "size_display": filesizeformat(asset.size),
        "content_type": asset.content_type,
        "category": asset.category,
        "scan_status": asset.scan_status,
        "scan_label": asset.get_scan_status_display(),
        "downloadable": asset.is_downloadable,
        "download_url": download if asset.is_downloadable else None,
        "preview_url": f"{download}?preview=1" if asset.is_downloadable and downloads.may_show_inline(asset) else None,
    }


def _back(request, fallback: str) -> str:
    target = request.POST.get("next") or request.headers.get("Referer", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_POST
def upload(request):
    """Multipart `file` (or `files`) plus `category`; JSON for the upload widget, a redirect otherwise."""
    if not request.user.is_authenticated:
        if _wants_json(request):
            return JsonResponse({"error": "Sign in to upload files."}, status=401)
        return redirect(f"{reverse('account_login')}?next={reverse('files:list')}")
    category = request.POST.get("category", FileCategory.CV_UPLOAD)
    uploaded = request.FILES.getlist("file") or request.FILES.getlist("files")
    try:
        if category not in UPLOAD_CATEGORIES:
            raise DomainError("Unknown upload category.")
        if not uploaded:
            raise DomainError("Choose a file to upload.")
        if is_ratelimited(request, group="files.upload", key="user", rate=UPLOAD_RATE, increment=True):
            raise RateLimited("Too many uploads. Please wait a while and try again.")
        assets = [services.store_upload(f, actor=request.user, category=category) for f in uploaded]
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse({"error": exc.message}, status=exc.status)
        messages.error(request, exc.message)
        return redirect(_back(request, reverse("files:list")))
    if _wants_json(request):
        body = asset_json(assets[0]) if len(assets) == 1 else {"files": [asset_json(a) for a in assets]}
        return JsonResponse(body, status=201)
    names = ", ".join(a.original_name for a in assets)
    messages.success(request, f"Uploaded {names}. It is being checked for viruses and will be ready in a moment.")
    return redirect(_back(request, reverse("files:list")))


@login_required
@require_GET
def status(request):
    """Scan state of the given files, for the upload widget's polling (?ids=1,2,3)."""
    ids = [part for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()][:50]
    assets = FileAsset.objects.visible_to(request.user).filter(pk__in=ids) if ids else FileAsset.objects.none()
    return JsonResponse({"files": [asset_json(a) for a in assets]})


@login_required
@require_GET
def file_list(request):
    # The profile photo has its own card on the page; data exports are on the profile page.
    assets = (
        FileAsset.objects.live()
        .filter(owner=request.user)
        .exclude(category__in=[FileCategory.AVATAR, FileCategory.DATA_EXPORT])
        .prefetch_related("deliveries")
    )
    page = Paginator(assets, 20).get_page(request.GET.get("page"))
    return render(request, "files/list.html", {"page": page, "assets": page.object_list})


@login_required
@require_GET
def download(request, pk: int):
    """Check who asks and the scan, then redirect to a short-lived signed URL."""
    asset = get_object_or_404(FileAsset.objects.visible_to(request.user), pk=pk)
    if asset.scan_status == ScanStatus.PENDING:
        raise InvalidState("This file is still being checked for viruses. Try again in a moment.")
    if asset.scan_status == ScanStatus.INFECTED:
        raise InvalidState("This file was flagged by the virus scanner and removed. It cannot be downloaded.")
    if asset.scan_status != ScanStatus.CLEAN:
        raise InvalidState(
            "This file could not be checked for viruses yet, so it cannot be downloaded. Staff have been told."
        )
    response = redirect(downloads.signed_url(asset, inline=request.GET.get("preview") == "1"))
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
def serve(request, token: str):
    """The local-storage target of a signed link: stream the file, with single-range support."""
    try:
        claims = downloads.read_token(token)
    except signing.SignatureExpired:
        return HttpResponseForbidden("This download link has expired. Go back and click the file again.")
    except signing.BadSignature:
        return HttpResponseForbidden("This download link is not valid.")
    asset = get_object_or_404(FileAsset.objects.clean(), pk=claims.get("id"), key=claims.get("k"))
    inline = bool(claims.get("i")) and downloads.may_show_inline(asset)
    try:
        fileobj = default_storage.open(asset.key, "rb")
    except FileNotFoundError:
        return HttpResponse("This file is no longer available.", status=410, content_type="text/plain")
    size = asset.size
    response: HttpResponseBase
    try:
        byte_range = downloads.parse_range(request.headers.get("Range", ""), size)
    except downloads.UnsatisfiableRange:
        fileobj.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return _file_headers(response, asset, inline)
    if byte_range is None:
        response = FileResponse(fileobj, content_type=asset.content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = byte_range
        fileobj.seek(start)
        response = StreamingHttpResponse(
            _read_span(fileobj, end - start + 1), status=206, content_type=asset.content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    return _file_headers(response, asset, inline)


def _read_span(fileobj, remaining: int):
    try:
        while remaining > 0:
            chunk = fileobj.read(min(STREAM_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fileobj.close()


def _file_headers(response: HttpResponseBase, asset: FileAsset, inline: bool) -> HttpResponseBase:
    response["Content-Disposition"] = downloads.disposition(asset, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
@require_POST
def delete(request, pk: int):
    asset = get_object_or_404(FileAsset.objects.live().filter(owner=request.user), pk=pk)
    try:
        services.delete_upload(asset, actor=request.user)
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse({"error": exc.message}, status=exc.status)
        messages.error(request, exc.message)
        return redirect(_back(request, reverse("files:list")))
    if _wants_json(request):
        return JsonResponse({"id": asset.pk, "deleted": True})
    messages.success(request, f"Deleted {asset.original_name}.")
    return redirect(_back(request, reverse("files:list")))


@require_POST
def avatar_upload(request):
    """A new profile photo (multipart `file`): PNG, JPEG or WebP, re-encoded without metadata."""
    if not request.user.is_authenticated:
        if _wants_json(request):
            return JsonResponse({"error": "Sign in to upload files."}, status=401)
        return redirect(f"{reverse('account_login')}?next={reverse('files:list')}")
    uploaded = request.FILES.get("file") or request.FILES.get("files")
    try:
        if uploaded is None:
            raise DomainError("Choose an image to upload.")
        if is_ratelimited(request, group="files.upload", key="user", rate=UPLOAD_RATE, increment=True):
            raise RateLimited("Too many uploads. Please wait a while and try again.")
        asset = services.set_avatar(request.user, uploaded, actor=request.user)
    except DomainError as exc:
        if _wants_json(request):
            return JsonResponse({"error": exc.message}, status=exc.status)
        messages.error(request, exc.message)
        return redirect(_back(request, reverse("files:list")))
    if _wants_json(request):
        return JsonResponse(asset_json(asset), status=201)
    messages.success(request, "Your photo was uploaded. It is shown once our virus check has passed.")
    return redirect(_back(request, reverse("files:list")))


@login_required
@require_POST
def avatar_remove(request):
    services.remove_avatar(request.user, actor=request.user)
    messages.success(request, "Your photo was removed.")
    return redirect(_back(request, reverse("files:list")))


@require_safe
def avatar(request, user_id: int):
    """Anyone may see a user's current, clean profile photo (served by us, so CSP 'self' covers it)."""
    asset = services.public_avatar(user_id)
    if asset is None:
        raise Http404("No photo.")
    try:
        fileobj = default_storage.open(asset.key, "rb")
    except FileNotFoundError as exc:
        raise Http404("No photo.") from exc
    response = FileResponse(fileobj, content_type=asset.content_type)
    response["Content-Length"] = str(asset.size)
    response["Content-Disposition"] = downloads.disposition(asset, inline=True)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=300"
    response["ETag"] = f'"{asset.sha256[:32]}"'
    return response


# A ZIP of all of a user's data is heavy to build: a few per day is plenty.
EXPORT_RATE = "5/d"


@login_required
@require_POST
def export_request(request):
    """'Export my data' on the profile page: the ZIP is built in the background; the page shows it."""
    if is_ratelimited(request, group="files.export", key="user", rate=EXPORT_RATE, increment=True):
        raise RateLimited("You have asked for several exports today. Download the latest one, or try tomorrow.")
    export = services.request_export(request.user, actor=request.user, ip_address=client_ip(request))
    export.refresh_from_db()  # with eager tasks (the embedded default) it may be built already
    if export.status == ExportStatus.READY:
        messages.success(request, "Your data export is ready: download it below.")
    elif export.status == ExportStatus.BUILDING:
        messages.success(request, "We are preparing your data export. It will appear here in a moment.")
    return redirect(reverse("accounts:profile") + "#data-export")
