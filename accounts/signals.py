"""Signals accounts sends for the apps above it (they connect in their AppConfig.ready)."""

from django.dispatch import Signal

# A user's sessions changed: a logout ended one (`ended_session_key`), a password change made the
# others stale, or a suspension ended them all. Sent after commit with `user_id` and `ended_session_key`
# (None unless a logout); open connections (chat sockets) re-check their session at once.
sessions_changed = Signal()
