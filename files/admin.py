"""Uploaded files in the operator console: scan status at a glance, re-run a scan."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from core.console import ConsoleAdmin, apply_to_each
from core.http import client_ip

from . import services
from .models import Avatar, DataExport, FileAsset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(FileAsset)
class FileAssetAdmin(ConsoleAdmin):
    list_display = (
        "original_name",
        "owner",
        "category",
        "content_type",
        "human_size",
        "scan_status",
        "scanned_at",
        "created_at",
        "deleted_at",
    )
    list_filter = ("scan_status", "category", "storage", DeletedFilter, "content_type")
    search_fields = ("original_name", "owner__email", "=sha256", "key")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "owner",
        "original_name",
        "category",
        "content_type",
        "size",
        "sha256",
        "storage",
        "key",
        "scan_status",
        "scan_detail",
        "scanned_at",
        "created_at",
        "deleted_at",
    )
    fields = readonly_fields
    actions = ("rescan",)

    @admin.display(description="size", ordering="size")
    def human_size(self, obj):
        return filesizeformat(obj.size)

    @admin.action(description="Re-run the virus scan", permissions=["moderate"])
    def rescan(self, request, queryset):
        ip = client_ip(request)
        apply_to_each(
            self,
            request,
            queryset,
            lambda asset: services.rescan(asset, actor=request.user, ip_address=ip),
            done=("Re-ran the scan of {count} file.", "Re-ran the scan of {count} files."),
        )


@admin.register(Avatar)
class AvatarAdmin(ConsoleAdmin):
    """Whose profile photo is which upload (read-only: people change their own photo)."""

    list_display = ("user", "asset", "updated_at")
    search_fields = ("user__email",)
    list_select_related = ("user", "asset")
    readonly_fields = ("user", "asset", "created_at", "updated_at")
    fields = readonly_fields


@admin.register(DataExport)
class DataExportAdmin(ConsoleAdmin):
    """Who asked for a copy of their data, and whether it was built (read-only: users ask themselves)."""

    list_display = ("user", "status", "created_at", "finished_at", "asset")
    list_filter = ("status",)
    search_fields = ("user__email",)
    list_select_related = ("user", "asset")
    date_hierarchy = "created_at"
    readonly_fields = ("user", "status", "asset", "failure", "created_at", "finished_at")
    fields = readonly_fields
