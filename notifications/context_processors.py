from .services import unread_count


def unread(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Memoised on the request: every template rendered with it runs this again.
    if not hasattr(request, "_unread_notifications"):
        request._unread_notifications = unread_count(user)
    return {"unread_notifications": request._unread_notifications}
