"""Input of documents' pages; lengths and passages are checked again by the services."""

from django import forms


class CommentForm(forms.Form):
    # Filled in by static/js/documents.js from the reader's selection.
    block = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    quote = forms.CharField(
        label="Passage", widget=forms.Textarea(attrs={"rows": 2, "readonly": True}), max_length=1000
    )
    body = forms.CharField(label="Your comment", widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ReplyForm(forms.Form):
    body = forms.CharField(label="Reply", widget=forms.Textarea(attrs={"rows": 2}))


class RevisionFromCommentsForm(forms.Form):
    note = forms.CharField(
        label="Anything else for the coach? (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )


class JobForm(forms.Form):
    title = forms.CharField(label="Job title", max_length=160, required=False)
    # No max_length here: the service answers an over-long paste with its length and the limit.
    text = forms.CharField(
        label="Job description",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        strip=True,
        help_text="Paste the advert's text. It is seen only by you, your coach and our staff.",
    )
