"""Hooks higher layers (adminpanel's figures) register for; sent inside the service's transaction."""

from django.dispatch import Signal

# A ledger row was written by a bulk INSERT, which sends no post_save (record_charge). kwargs: entry
ledger_written = Signal()
