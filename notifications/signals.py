"""Hooks for higher layers. Sent after commit, so receivers see the committed rows."""

from django.dispatch import Signal

# kwargs: user_ids (a tuple). These users' unread notifications changed (one arrived, or some were
# read): messaging pushes the new count to the navbar bell of their open pages.
unread_changed = Signal()
