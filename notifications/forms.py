from django import forms

from . import kinds


class EmailPreferencesForm(forms.Form):
    """One switch per category. Transactional ones are shown on and disabled, so a post cannot change them."""

    def __init__(self, *args, current: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        for category, meta in kinds.CATEGORIES.items():
            help_text = meta.email_help
            self.fields[category] = forms.BooleanField(
                label=meta.label,
                required=False,
                initial=current[category],
                disabled=meta.always_email,
                help_text=help_text,
            )

    def rows(self):
        """(bound field, category info) in display order, for the template."""
        return [(self[category], meta) for category, meta in kinds.CATEGORIES.items()]

    def choices(self) -> dict[str, bool]:
        """The optional categories' new values (disabled fields are not the user's to change)."""
        return {c: bool(self.cleaned_data[c]) for c, meta in kinds.CATEGORIES.items() if not meta.always_email}
