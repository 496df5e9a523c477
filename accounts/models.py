"""Users: email is the login, a role decides what they can do, a status can lock them out."""

import hashlib
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import QuerySet
from django.db.models.functions import Lower

from core import sqlmemo
from core.cache import bump_version, cached_for, missing_ahead
from core.models import TimeStampedModel

# core.cache scope of what is cached per user about their email addresses; accounts.apps bumps it
# whenever one of their EmailAddress rows is saved or deleted.
EMAIL_SCOPE = "email-addresses"
VERIFIED_EMAIL = "verified-email"  # its name for has_verified_email's answer


class Role(models.TextChoices):
    CLIENT = "client", "Client"
    COACH = "coach", "Coach"
    ADMIN = "admin", "Staff"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    PENDING_VERIFICATION = "pending_verification", "Pending verification"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def normalize_email(self, email):
        return (email or "").strip().lower()

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def get(self, *args, **kwargs):
        """Manager.get. One user by an integer primary key (every signed-in request's: the session's user, read
        by django.contrib.auth's ModelBackend.get_user) is compiled once per process and kept prepared
        (core.sqlmemo, a lookup by primary key): building and compiling it was ~7 % of a page on a miss
        (issue 13). A related manager (a subclass) and any other lookup take the ORM."""
        pk = kwargs.get("pk")
        if args or len(kwargs) != 1 or type(pk) is not int or type(self) is not UserManager:
            return super().get(*args, **kwargs)
        found = sqlmemo.instances(
            "accounts: user by id",
            lambda given: self.get_queryset().filter(pk=given["pk"])[:2],
            {"pk": pk},
            self.db,
            prepare=True,
        )
        if not found:  # what QuerySet.get raises
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(
                f"get() returned more than one {self.model._meta.object_name} -- it returned {len(found)}!"
            )
        return found[0]

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.CLIENT)
        extra_fields["is_staff"] = extra_fields.get("role") == Role.ADMIN
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser, TimeStampedModel):
    # Email is the login, so AbstractUser's username goes (Django's documented way); the stubs type it as str.
    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLIENT, db_index=True)
    account_status = models.CharField(
        max_length=24, choices=AccountStatus.choices, default=AccountStatus.ACTIVE, db_index=True
    )
    suspended_reason = models.CharField(max_length=500, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Bumped by a password change, a suspension or "log out everywhere": API access tokens carry the
    # value they were issued with and are refused once it differs (accounts.api.authentication).
    token_version = models.PositiveIntegerField(default=0)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # The stubs tie AbstractUser to auth's UserManager, whose create_user needs a username we do not have.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        # Staff access follows the role, never the other way round.
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        if self._state.adding:
            super().save(*args, **kwargs)
            return
        # token_version only ever moves up in the database (F() + 1): a save of a copy loaded before a
        # "log out everywhere" must not write the old number back and revive the tokens it ended.
        if kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.attname for f in self._meta.concrete_fields if not f.primary_key and f.name != "token_version"
            ]
        # Django sets _password only when set_password() ran (not for a hash upgrade at login): every
        # route that changes a password (allauth's pages, the API, the console) ends older API tokens.
        password_changed = self._password is not None
        if password_changed:
            self.token_version = models.F("token_version") + 1
            kwargs["update_fields"] = [*kwargs["update_fields"], "token_version"]
        super().save(*args, **kwargs)
        if password_changed:
            self.refresh_from_db(fields=["token_version"])

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email.split("@")[0]

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def is_coach(self) -> bool:
        return self.role == Role.COACH

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_suspended(self) -> bool:
        return self.account_status == AccountStatus.SUSPENDED

    @property
    def has_verified_email(self) -> bool:
        """Asked on every logged-in page (the banner) and before requests and payments, so cached per
        user until one of their EmailAddress rows changes; stamped with the login email too, so a changed
        email is asked afresh."""
        if self.pk is None:
            return verified_addresses(self, self.email).exists()

        def ask_memoised() -> bool:
            # compiled once per process and kept prepared (a lookup by the user's id): a first visit's banner
            # built and compiled it
            found = sqlmemo.rows(
                "accounts: verified email",
                lambda given: verified_addresses(given["user"], given["email"]).values_list("pk")[:1],
                {"user": self.pk, "email": self.email},
                prepare=True,
            )
            return bool(found)

        # Under one name per user (core.pages reads it ahead by another user's pattern on a first visit), the
        # answer stamped with the address it was asked for: an address changed without an EmailAddress write
        # (which bumps the scope) is asked afresh, once, by making the user's stale.
        email = self._email_stamp()
        asked, verified = cached_for(EMAIL_SCOPE, self.pk, VERIFIED_EMAIL, lambda: (email, ask_memoised()))
        if asked != email:
            bump_version(EMAIL_SCOPE, self.pk)
            asked, verified = cached_for(EMAIL_SCOPE, self.pk, VERIFIED_EMAIL, lambda: (email, ask_memoised()))
        return verified

    def _email_stamp(self) -> str:
        return hashlib.sha256(self.email.lower().encode()).hexdigest()[:20]

    def verified_email_missing(self) -> Callable[[bool], None] | None:
        """When this page miss is to ask has_verified_email afresh (core.cache.missing_ahead): a function that keeps
        the answer, got by a statement that reads another value with it (notifications: the bell's count and
        `Exists(verified_addresses(…))` in one row); None when it is cached, or not read ahead."""
        if self.pk is None or not isinstance(self.email, str):
            return None
        keep = missing_ahead(EMAIL_SCOPE, self.pk, VERIFIED_EMAIL)
        if keep is None:
            return None
        stamp = self._email_stamp()
        return lambda verified: keep((stamp, bool(verified)))


def verified_addresses(user: Any, email: Any) -> QuerySet:
    """The user's verified EmailAddress rows for this login email: has_verified_email is whether one exists.
    `user` and `email` may be values or expressions (OuterRef)."""
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True)


class ApiRefreshToken(models.Model):
    """One API refresh token, stored only as its SHA-256: a database leak hands out no usable token.

    Every refresh uses one up and issues the next of the same `family` (one login). A token presented
    again after use is a stolen copy (or the thief's original), so the whole family and every other
    refresh token of the user are revoked (accounts.services.rotate_refresh_token).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_refresh_tokens")
    family = models.UUIDField(db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The user's token_version when issued: a bump (password change, suspension, log out everywhere)
    # ends refresh tokens too, without touching their rows.
    token_version = models.PositiveIntegerField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"refresh token {self.pk} of user {self.user_id}"
