from django import forms


class NoteForm(forms.Form):
    """A required explanation (revision request, dispute reason)."""

    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000, min_length=10)

    def __init__(self, *args, label: str = "Note", help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = label
        self.fields["note"].help_text = help_text


class OptionalNoteForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False)

    def __init__(self, *args, label: str = "Note (optional)", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].label = label


class DeliveryForm(forms.Form):
    note = forms.CharField(
        label="Message to the client",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        help_text="What you changed, what to check, anything they should know.",
    )


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="Your rating",
        coerce=int,
        choices=[(5, "5 – Excellent"), (4, "4 – Good"), (3, "3 – OK"), (2, "2 – Poor"), (1, "1 – Bad")],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label="Your review (public)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
    )


class ReplyForm(forms.Form):
    reply = forms.CharField(label="Your public reply", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class DisputeStatementForm(forms.Form):
    body = forms.CharField(
        label="Your side of the story",
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=10,
        max_length=4000,
        help_text="Our team and the other side read this. Stick to what happened; attach evidence if you have it.",
    )
