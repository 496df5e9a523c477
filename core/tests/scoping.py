"""Assertions shared by the tests that prove a memoised page shows each user only their own rows."""

from django.test import Client


def assert_each_sees_only_their_own(client: Client, url: str, words: dict) -> None:
    """Signed in as each user in turn, the page shows that user's word and none of the others' words.

    `words` maps a user to a word that only their rows carry; the order of the visits is the dict's, so the second
    user's page is made from whatever the first visit compiled or cached.
    """
    for user, own in words.items():
        client.force_login(user)
        html = client.get(url).content.decode()
        assert own in html, (user.pk, own)
        for other, theirs in words.items():
            if other != user:
                assert theirs not in html, (user.pk, theirs)
