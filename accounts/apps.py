from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(_track_session, dispatch_uid="accounts.track_session")
        from .api import schema  # noqa: F401 - registers the API's auth schemes with drf-spectacular


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
