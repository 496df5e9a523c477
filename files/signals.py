"""Signals files sends for the apps above it (they connect in their AppConfig.ready)."""

from django.dispatch import Signal

# Sent after the commit that marked a file clean; kwargs: asset_id, category. Apps above files
# (documents reads the text of CVs and deliveries) react here; files never imports them.
file_scanned_clean = Signal()
