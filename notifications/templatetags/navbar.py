"""{% navbar %}: base.html's navbar, filled in from its per-process form (core.fragments.slotted).

The navbar shows the visitor's role, staff flag, name and bell count and nothing else of the request. It was
cached per visitor (a fragment under all four): a first visit rendered it and stored it, and each later miss
read it back. Now each shape (signed in or not, role, staff, bell lit or not) is rendered once per process
with slots for the name and the count, and every visitor's navbar is that form with their two values.
"""

from typing import Any

from django import template
from django.utils.safestring import SafeString

from core.fragments import printed, slotted

register = template.Library()

NAVBAR = "partials/navbar.html"


class _StandIn:
    """The signed-in user as partials/navbar.html may see them: the shape's values, the name a slot."""

    def __init__(self, *, role: str, is_staff: bool, role_display: str, display_name: str) -> None:
        self.is_authenticated = True
        self.role = role
        self.is_staff = is_staff
        self.display_name = display_name
        self._role_display = role_display

    def get_role_display(self) -> str:
        return self._role_display


class _Anonymous:
    is_authenticated = False


def navbar_html(context: template.Context) -> SafeString:
    """partials/navbar.html as rendered with this context (its user and unread_notifications)."""
    user = context.get("user")
    real = context.flatten
    if user is None or not user.is_authenticated:
        return slotted(NAVBAR, (False,), {}, stand_in=lambda slots: {"user": _Anonymous()}, real=real)
    unread = context.get("unread_notifications")
    role, is_staff, role_display = str(user.role), bool(user.is_staff), str(user.get_role_display())
    values = {"name": printed(user.display_name)}
    if unread:
        values["unread"] = printed(unread)

    def stand_in(slots: dict[str, str]) -> dict[str, Any]:
        visitor = _StandIn(role=role, is_staff=is_staff, role_display=role_display, display_name=slots["name"])
        return {"user": visitor, "unread_notifications": slots.get("unread", unread)}

    return slotted(NAVBAR, (True, role, is_staff, role_display, bool(unread)), values, stand_in=stand_in, real=real)


@register.simple_tag(takes_context=True)
def navbar(context) -> SafeString:
    return navbar_html(context)
