from core.console import done_message


def test_success_messages_use_the_right_plural():
    done = ("Suspended {count} user.", "Suspended {count} users.")
    assert done_message(done, 1) == "Suspended 1 user."
    assert done_message(done, 3) == "Suspended 3 users."
    assert done_message("Dispute resolved.", 1) == "Dispute resolved."
