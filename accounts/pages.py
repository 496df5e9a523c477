"""Which cached pages (core.pages) show accounts' rows: a user's own pages, and everyone's for their name."""

from allauth.account.models import EmailAddress, EmailConfirmation

from core.pages import Everyone, follow, ignore

from .models import ApiRefreshToken, User

# What other people's pages show of a user: their name (display_name falls back on the email).
SHOWN_TO_OTHERS = frozenset({"first_name", "last_name", "email"})


def _user(user: User, *, created: bool, update_fields, deleted: bool) -> tuple[int, ...]:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return ()  # a login
    if not created and (update_fields is None or SHOWN_TO_OTHERS & set(update_fields)):
        raise Everyone  # a rename shows on every counterpart's orders, threads and dashboards
    return (user.pk,)


def connect() -> None:
    follow(User, _user)
    follow(EmailAddress, lambda address, **_: (address.user_id,))  # the "confirm your email" banner
    ignore(ApiRefreshToken, EmailConfirmation)
