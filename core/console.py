"""The staff console's building blocks, shared by every app's admin.py (DESIGN.md §1, §3a).

An app's admin.py belongs to that app's layer: it reads its models and changes state only by calling
its own services (so a rule is enforced once). This module sits on the ground floor so that every
layer can build its console pages on it without importing the console app above them.

- `ConsoleAdmin`: staff (role admin) may view every model; adding, editing and deleting are off
  unless a model admin turns them on, because domain state moves through services, not forms.
  The few form edits staff may make are audited through the recorder `audit` registers at start-up
  (`register_staff_action_recorder`), since this floor cannot import the audit app.
- `form_action`: an admin action that first asks for a reason or an amount on a page of its own
  (action → form → confirm), the way Django's own "delete selected" confirmation works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models, transaction
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from .exceptions import DomainError
from .http import client_ip
from .money import format_money


class StaffActionRecorder(Protocol):
    def __call__(
        self, action: str, target: models.Model, *, actor: Any, details: dict[str, Any], ip_address: str | None
    ) -> Any: ...


_recorder: StaffActionRecorder | None = None


def register_staff_action_recorder(recorder: StaffActionRecorder) -> None:
    """Called by the audit app's AppConfig.ready: console edits and deletes are written through it."""
    global _recorder
    _recorder = recorder


def _record(action: str, target: models.Model, request, details: dict[str, Any]) -> None:
    if _recorder is None:
        raise RuntimeError("No staff action recorder is registered: is the audit app installed?")
    _recorder(action, target, actor=request.user, details=details, ip_address=client_ip(request))


def is_console_user(request) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_active and user.is_staff)


class ConsoleAdmin(admin.ModelAdmin):
    """Base for every model in the console: staff see it; writes are opt-in per model."""

    staff_can_add = False
    staff_can_change = False
    staff_can_delete = False
    list_per_page = 50
    # The "N total" link costs a second COUNT(*) over the whole table on every filtered page.
    show_full_result_count = False

    def has_module_permission(self, request):
        return is_console_user(request)

    def has_view_permission(self, request, obj=None):
        return is_console_user(request)

    def has_add_permission(self, request, *args):
        return self.staff_can_add and is_console_user(request)

    def has_change_permission(self, request, obj=None):
        return self.staff_can_change and is_console_user(request)

    def has_delete_permission(self, request, obj=None):
        return self.staff_can_delete and is_console_user(request)

    def save_model(self, request, obj, form, change):
        """The few fields staff may edit in a form are audited like every other staff action."""
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            _record(f"admin.{'change' if change else 'add'}", obj, request, {"fields": list(form.changed_data)})

    def delete_model(self, request, obj):
        with transaction.atomic():
            _record("admin.delete", obj, request, {})
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                _record("admin.delete", obj, request, {})
            super().delete_queryset(request, queryset)

    def has_moderate_permission(self, request):
        """Actions that call a service (`allowed_permissions=("moderate",)`): any active staff user."""
        return is_console_user(request)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return is_console_user(request)


# --- Display helpers -----------------------------------------------------------------------


def money(amount_minor: int | None, currency: str) -> str:
    return format_money(amount_minor, currency or "")


def changelist_link(model_label: str, label: str, **filters: Any) -> str:
    """A link to another changelist filtered by `filters`, or "" when that model is not registered."""
    app_label, model_name = model_label.split(".")
    try:
        url = reverse(f"admin:{app_label}_{model_name}_changelist")
    except NoReverseMatch:
        return ""
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, label)


def join_links(*items: str) -> str:
    """Links separated by a middle dot, skipping the empty ones (unregistered models)."""
    return format_html_join(" · ", "{}", ((item,) for item in items if item)) or "—"


def change_link(obj: models.Model | None, label: str | None = None) -> str:
    if obj is None:
        return "—"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(label or obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


# A success message: one text, or (singular, plural) so that "Suspended 1 user." reads right.
Done = str | tuple[str, str]


def done_message(done: Done, count: int) -> str:
    text = done if isinstance(done, str) else ngettext(done[0], done[1], count)
    return text.format(count=count)


def apply_to_each(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    perform: Callable[[Any], Any],
    *,
    done: Done,
) -> int:
    """Call `perform(obj)` for each selected object; a refused one is reported and skipped.

    `done` is the success message with `{count}`, or its (singular, plural) forms. Returns how many succeeded.
    """
    count = 0
    for obj in queryset:
        try:
            perform(obj)
        except DomainError as error:
            modeladmin.message_user(request, f"{obj}: {error.message}", messages.ERROR)
        else:
            count += 1
    if count:
        modeladmin.message_user(request, done_message(done, count), messages.SUCCESS)
    return count


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit log; told to the people concerned.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


def form_action(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    action: str,
    form_class: type[forms.Form],
    title: str,
    intro: str,
    perform: Callable[[Any, dict[str, Any]], Any],
    done: Done,
    max_objects: int | None = None,
    form_kwargs: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
):
    """An admin action with a form page in between: first POST shows the form, the second applies it.

    Returns a response (the form page) or None (Django then redirects back to the changelist).
    """
    limit = max_objects or 200
    objects = list(queryset[: limit + 1])
    if len(objects) > limit:
        noun = "object" if limit == 1 else "objects"
        modeladmin.message_user(request, f"Select at most {limit} {noun} for “{title}”.", messages.WARNING)
        return None
    form_kwargs = form_kwargs or {}
    if request.POST.get("confirm") == "yes":
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            apply_to_each(modeladmin, request, objects, lambda obj: perform(obj, form.cleaned_data), done=done)
            return None
    else:
        form = form_class(**form_kwargs)
    opts = modeladmin.model._meta
    return TemplateResponse(
        request,
        "adminpanel/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "form": form,
            "objects": objects,
            "opts": opts,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **(context or {}),
        },
        status=400 if form.is_bound else 200,
    )
