import re

import pytest

LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture
def signup_data():
    return {
        "email": "new.person@example.com",
        "password1": "a-long-unusual-passphrase-77",
        "password2": "a-long-unusual-passphrase-77",
        "first_name": "Nadia",
        "last_name": "Rahman",
        "role": "client",
    }


def links_in(message, contains: str) -> list[str]:
    return [url for url in LINK.findall(message.body) if contains in url]
