from django.conf import settings
from django.utils.functional import SimpleLazyObject


def site(request):
    user = getattr(request, "user", None)
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        # The banner and the dashboards both ask: one query per page at most, none when unused.
        "has_verified_email": SimpleLazyObject(
            lambda: bool(user and user.is_authenticated and user.has_verified_email)
        ),
    }
