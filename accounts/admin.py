"""Users in the operator console: filters, quick links, suspension and verification mail."""

from allauth.account.models import EmailAddress
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html

from core.console import (
    ConsoleAdmin,
    ReasonForm,
    apply_to_each,
    changelist_link,
    done_message,
    form_action,
    join_links,
)
from core.exceptions import InvalidState
from core.http import client_ip

from . import services
from .models import ApiRefreshToken, Role, User


class VerifiedEmailFilter(admin.SimpleListFilter):
    title = "verified email"
    parameter_name = "verified_email"

    def lookups(self, request, model_admin):
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(email_verified=True)
        if self.value() == "no":
            return queryset.filter(email_verified=False)
        return queryset


def _verified_subquery():
    return Exists(EmailAddress.objects.filter(user=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True))


@admin.register(User)
class UserAdmin(ConsoleAdmin):
    staff_can_change = True
    list_display = ("email", "full_name", "role", "account_status", "verified", "links", "date_joined")
    list_filter = ("role", "account_status", VerifiedEmailFilter, ("date_joined", admin.DateFieldListFilter))
    search_fields = ("email", "first_name", "last_name", "phone")
    date_hierarchy = "date_joined"
    ordering = ("-date_joined",)
    fields = (
        "email",
        ("first_name", "last_name"),
        "phone",
        "role",
        "account_status",
        "suspended_reason",
        "verified",
        "is_superuser",
        ("date_joined", "last_login"),
        "links",
    )
    readonly_fields = (
        "email",
        "role",
        "account_status",
        "suspended_reason",
        "verified",
        "is_superuser",
        "date_joined",
        "last_login",
        "links",
    )
    actions = ("suspend_users", "reactivate_users", "resend_verification_email")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(email_verified=_verified_subquery())

    def get_readonly_fields(self, request, obj=None):
        # Roles grant staff access (User.save ties is_staff to the role): only superusers change them.
        fields = list(super().get_readonly_fields(request, obj))
        if request.user.is_superuser and obj is not None and obj.pk != request.user.pk:
            fields.remove("role")
        return fields

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj):
        return obj.get_full_name() or "—"

    @admin.display(description="email verified", boolean=True, ordering="email_verified")
    def verified(self, obj):
        return getattr(obj, "email_verified", None)

    @admin.display(description="quick links")
    def links(self, obj):
        if obj.pk is None:
            return "—"
        if obj.role == Role.COACH:
            items = [
                changelist_link("orders.order", "orders", coach__id__exact=obj.pk),
                format_html('<a href="{}?coach={}">ledger</a>', reverse("adminpanel:transactions"), obj.pk),
            ]
        else:
            items = [
                changelist_link("orders.order", "orders", client__id__exact=obj.pk),
                changelist_link("payments.payment", "payments", client__id__exact=obj.pk),
            ]
        items += [
            changelist_link("files.fileasset", "files", owner__id__exact=obj.pk),
            changelist_link("audit.auditlog", "audit", target_type="accounts.user", target_id=obj.pk),
        ]
        return join_links(*items)

    # --- Moderation -----------------------------------------------------------------------

    @admin.action(description="Suspend selected users…", permissions=["moderate"])
    def suspend_users(self, request, queryset):
        ip = client_ip(request)
        return form_action(
            self,
            request,
            queryset,
            action="suspend_users",
            form_class=ReasonForm,
            title="Suspend users",
            intro="Suspended users are logged out everywhere now, cannot log in, and get an email with the reason.",
            perform=lambda user, data: services.suspend_user(
                user, actor=request.user, reason=data["reason"], ip_address=ip
            ),
            done=("Suspended {count} user.", "Suspended {count} users."),
        )

    @admin.action(description="Reactivate selected users", permissions=["moderate"])
    def reactivate_users(self, request, queryset):
        ip = client_ip(request)
        apply_to_each(
            self,
            request,
            queryset,
            lambda user: services.reactivate_user(user, actor=request.user, ip_address=ip),
            done=("Reactivated {count} user.", "Reactivated {count} users."),
        )

    @admin.action(description="Resend the verification email", permissions=["moderate"])
    def resend_verification_email(self, request, queryset):
        sent, skipped = 0, []
        ip = client_ip(request)
        for user in queryset:
            try:
                done = services.resend_verification(user, actor=request.user, request=request, ip_address=ip)
            except InvalidState as refused:
                skipped.append(f"{user.email} ({refused})")
                continue
            if done:
                sent += 1
            else:
                skipped.append(f"{user.email} (a mail was sent a few minutes ago)")
        # allauth adds its own "Confirmation email sent" message per address; ours sums up.
        if sent:
            self.message_user(
                request,
                done_message(("Sent {count} verification email.", "Sent {count} verification emails."), sent),
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(request, "Not sent: " + "; ".join(skipped), messages.WARNING)


@admin.register(ApiRefreshToken)
class ApiRefreshTokenAdmin(ConsoleAdmin):
    """API sessions: staff see who holds refresh tokens and which were used or revoked (never the hash)."""

    list_display = ("user", "family", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("used_at", admin.EmptyFieldListFilter))
    search_fields = ("user__email", "=family")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    fields = ("user", "family", "created_at", "expires_at", "used_at", "revoked_at")
    readonly_fields = fields
