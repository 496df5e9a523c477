from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from . import pages

        pages.connect()  # which cached pages show accounts (core.pages)
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_track_session, dispatch_uid="accounts.track_session")
        from allauth.account.signals import password_changed, password_reset, password_set
        from django.contrib.auth.signals import user_logged_out

        from .api import schema  # noqa: F401 - registers the API's auth schemes with drf-spectacular

        user_logged_out.connect(_logged_out, dispatch_uid="accounts.sessions_changed.logout")
        from allauth.account.models import EmailAddress
        from django.db.models.signals import post_delete, post_save

        for model_signal in (post_save, post_delete):
            model_signal.connect(
                _email_address_changed, sender=EmailAddress, dispatch_uid=f"accounts.email.{id(model_signal)}"
            )
        for signal in (password_changed, password_set, password_reset):
            signal.connect(_password_changed, dispatch_uid=f"accounts.sessions_changed.{id(signal)}")


def _email_address_changed(sender, instance, **kwargs):
    """User.has_verified_email is cached per user: an added, verified, changed or removed address shows at once."""
    from core.cache import bump_version

    from .models import EMAIL_SCOPE

    bump_version(EMAIL_SCOPE, instance.user_id)


def _logged_out(sender, request, user, **kwargs):
    """Sent before the session is flushed, so its key is still known: its sockets close at once."""
    if user is not None and getattr(user, "pk", None):
        from .services import announce_sessions_changed

        announce_sessions_changed(user.pk, ended_session_key=getattr(request.session, "session_key", None))


def _password_changed(sender, request, user, **kwargs):
    """The other sessions now carry a stale password hash; the current one was updated (or logged out)."""
    from .services import announce_sessions_changed

    announce_sessions_changed(user.pk)


def _track_session(sender, request, user, **kwargs):
    """Record logins that do not go through allauth (the Django admin's login form) as well.

    allauth.usersessions records its own logins; get_or_create on the session key makes the
    second call a no-op update.
    """
    from allauth.usersessions.models import UserSession

    current = getattr(request, "user", None)
    if current is None or not current.is_authenticated or not hasattr(request, "session"):
        return  # e.g. the test client's force_login: a bare request with no user attached
    if not request.META.get("REMOTE_ADDR"):
        return  # allauth refuses to record a session without a client address
    UserSession.objects.create_from_request(request)
