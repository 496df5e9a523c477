from django import forms
from django.conf import settings


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class MessageForm(forms.Form):
    """The no-JavaScript form; chat.js sends the same fields over the websocket."""

    body = forms.CharField(
        label="Message",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a message…"}),
    )
    client_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    # Named "files" like the upload partial's input. The form metaclass moves declared fields into
    # base_fields, so this does not shadow Form.files at runtime; mypy sees only the class attribute.
    files = MultipleFileField(label="Attach files (PDF or Word)", required=False)  # type: ignore[assignment]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].widget.attrs["maxlength"] = settings.CHAT_MAX_MESSAGE_LENGTH
