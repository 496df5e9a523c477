"""Reading, comparing, commenting and the job-match report: thin views over documents.services.

Every view starts from the order through Order.objects.visible_to, so a stranger's order, file or
comment is a 404. A refused rule re-renders the page with the message and the right status.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.exceptions import DomainError
from core.http import client_ip
from orders import services as order_services
from orders.models import Order

from . import redline as redlines
from . import reports, services
from .forms import CommentForm, JobForm, ReplyForm, RevisionFromCommentsForm
from .models import Comment, JobDescription
from .rendering import commented_blocks, group_blocks


def _order_for(user, pk: int) -> Order:
    return get_object_or_404(Order.objects.visible_to(user).select_related("request", "client", "coach"), pk=pk)


def _version_or_404(all_versions, asset_id) -> services.Version:
    version = services.find_version(all_versions, asset_id)
    if version is None:
        raise Http404("No such version of this order's documents.")
    return version


def _can_request_revision(order: Order, user) -> bool:
    return "request_revision" in order_services.allowed_transitions(order, user)


@login_required
def read(request, order_pk: int, asset_pk: int):
    order = _order_for(request.user, order_pk)
    all_versions = services.versions(order)
    version = _version_or_404(all_versions, asset_pk)
    wanted = request.GET.get("v")
    if wanted and wanted != str(asset_pk):  # the version picker, which works without JavaScript too
        return redirect("documents:read", order_pk=order.pk, asset_pk=_version_or_404(all_versions, wanted).asset.pk)
    return _render_read(request, order, all_versions, version)


def _render_read(request, order, all_versions, version, *, status=200, error="", comment_form=None, revision_form=None):
    comments = list(
        Comment.objects.filter(order=order, asset=version.asset, parent__isnull=True)
        .select_related("author", "resolved_by")
        .prefetch_related("replies__author")
    )
    extraction = version.extraction
    blocks = extraction.blocks if extraction and extraction.ok else []
    previous = services.previous_version(all_versions, version)
    open_count = len(services.open_comments(order))
    context = {
        "order": order,
        "versions": all_versions,
        "version": version,
        "previous": previous,
        "groups": group_blocks(commented_blocks(blocks, comments)),
        "comments": comments,
        "is_party": request.user.pk in (order.client_id, order.coach_id),
        "is_client": request.user.pk == order.client_id,
        "open_count": open_count,
        "can_request_revision": open_count and _can_request_revision(order, request.user),
        "comment_form": comment_form or CommentForm(),
        "revision_form": revision_form or RevisionFromCommentsForm(),
        "reply_form": ReplyForm(),
        "error": error,
    }
    return render(request, "documents/read.html", context, status=status)


@login_required
@require_POST
def comment(request, order_pk: int, asset_pk: int):
    order = _order_for(request.user, order_pk)
    all_versions = services.versions(order)
    version = _version_or_404(all_versions, asset_pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _render_read(request, order, all_versions, version, status=400, comment_form=form)
    try:
        services.add_comment(
            order, actor=request.user, version=version, ip_address=client_ip(request), **form.cleaned_data
        )
    except DomainError as exc:
        return _render_read(
            request, order, all_versions, version, status=exc.status, error=exc.message, comment_form=form
        )
    messages.success(request, "Comment added.")
    return redirect(reverse("documents:read", args=[order.pk, version.asset.pk]) + "#comments")


def _comment_for(user, pk: int) -> Comment:
    return get_object_or_404(Comment.objects.visible_to(user).select_related("order", "asset"), pk=pk)


def _back_to(comment_obj: Comment):
    return redirect(
        reverse("documents:read", args=[comment_obj.order_id, comment_obj.asset_id]) + f"#c{comment_obj.pk}"
    )


@login_required
@require_POST
def reply(request, pk: int):
    parent = _comment_for(request.user, pk)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        raise DomainError("Write a reply first (at most the chat's message length).")
    services.reply(parent, actor=request.user, body=form.cleaned_data["body"], ip_address=client_ip(request))
    return _back_to(parent)


@login_required
@require_POST
def resolve(request, pk: int):
    target = _comment_for(request.user, pk)
    services.resolve(
        target, actor=request.user, resolved=request.POST.get("reopen") != "1", ip_address=client_ip(request)
    )
    return _back_to(target)


@login_required
@require_POST
def revision_from_comments(request, order_pk: int):
    order = _order_for(request.user, order_pk)
    form = RevisionFromCommentsForm(request.POST)
    if not form.is_valid():
        raise DomainError("The note is too long.")
    services.request_revision_from_comments(
        order, actor=request.user, note=form.cleaned_data["note"], ip_address=client_ip(request)
    )
    messages.success(request, "Revision requested with your comments as its checklist. The coach has been told.")
    return redirect("orders:detail", pk=order.pk)


@login_required
def compare(request, order_pk: int):
    order = _order_for(request.user, order_pk)
    all_versions = services.versions(order)
    readable = [v for v in all_versions if v.extraction and v.extraction.ok]
    if len(readable) < 2:
        return render(request, "documents/compare.html", {"order": order, "readable": readable}, status=200)
    new = services.find_version(readable, request.GET.get("new")) or readable[-1]
    default_old = services.previous_version(all_versions, new)
    if default_old not in readable:
        default_old = readable[0] if readable[0] is not new else readable[1]
    old = services.find_version(readable, request.GET.get("old")) or default_old
    assert old.extraction and new.extraction  # both are readable versions
    result = services.redline(old.extraction, new.extraction)
    context = {
        "order": order,
        "readable": readable,
        "old": old,
        "new": new,
        "rows": result.rows,
        "summary": result.summary,
        "summary_line": redlines.summary_line(result.summary),
        "passages": services.commented_passages(order, old, new),
    }
    return render(request, "documents/compare.html", context)


@login_required
def report(request, order_pk: int, *, status=200, job_form=None):
    order = _order_for(request.user, order_pk)
    jobs = list(JobDescription.objects.filter(order=order))
    context = {
        "order": order,
        "jobs": jobs,
        "reports": reports.build(services.versions(order), jobs, timezone.localdate()),
        "is_client": request.user.pk == order.client_id,
        "job_form": job_form or JobForm(),
    }
    return render(request, "documents/report.html", context, status=status)


@login_required
@require_POST
def add_job(request, order_pk: int):
    order = _order_for(request.user, order_pk)
    form = JobForm(request.POST)
    if form.is_valid():
        try:
            services.add_job_description(order, actor=request.user, ip_address=client_ip(request), **form.cleaned_data)
        except DomainError as exc:
            form.add_error("text", exc.message)
            return report(request, order_pk, status=exc.status, job_form=form)
        messages.success(request, "Target job added: every version is now measured against it.")
        return redirect("documents:report", order_pk=order.pk)
    return report(request, order_pk, status=400, job_form=form)


@login_required
@require_POST
def remove_job(request, pk: int):
    job = get_object_or_404(JobDescription.objects.filter(order__in=Order.objects.visible_to(request.user)), pk=pk)
    order_pk = job.order_id
    services.remove_job_description(job, actor=request.user, ip_address=client_ip(request))
    messages.success(request, "Target job removed.")
    return redirect("documents:report", order_pk=order_pk)
