"""The dashboard's threads box: its rows are filled in (messaging.templatetags.chat) from a form rendered once per
process and shape (unread or not, a last message or none, whose, with a body or none) with slots for the title,
the unread count, the sender's name and the truncated body and a marked sentinel for the id: every row is what
the template itself prints, whatever the values, and the box is what its inline loop printed before."""

import itertools

import pytest
from django.template import engines
from django.template.loader import get_template
from django.test import override_settings

from accounts.tests.factories import ClientFactory
from coaches.tests.factories import CoachProfileFactory
from core import fragments
from messaging import services
from messaging.models import Message, MessageThread
from messaging.services import LastMessage, Sender, ThreadPreview
from messaging.templatetags import chat
from orders.tests.factories import make_order

READER = 7
TITLES = ["CV rewrite", "<b>CV</b> & \"cover\" 'letter'", "", "@@fragment-slot-title@@ @@fragment-slot-pk@@"]
TITLES += ["Thread 987654321987", "a" * 160, "{{ t.pk }} {% url 'x' %}", "Before an order"]
BODIES = ["", "hi", "y" * 89, "z" * 90, "w" * 91, "v" * 300, "é" * 95, "e\u0301" * 60, "line one\nline two"]
BODIES += [
    "<script>alert(1)</script>",
    "@@fragment-slot-body@@",
    "987654321987",
    "a & b < c > \" ' " * 10,
    "word " * 40,
]
NAMES = [("Ada", "Lovelace"), ('<b>Ann</b> & "Co"', "O'Neil"), ("", ""), ("@@fragment-slot-name@@", ""), ("Zoë", "")]
UNREAD = [0, 1, 9, 1234, 987654321987]


@pytest.fixture(autouse=True)
def no_row_forms():
    """Each test starts as a fresh process would: no shape of a row filled in yet (they are per process)."""
    fragments._slotted_forms.clear()


def _previews():
    """Threads with each title, unread count, body and sender (the reader's own or the other party's, some with
    no name: named by their email), and threads with no last message; ids of 1 to 12 digits."""
    found = []
    combos = itertools.product(TITLES, UNREAD, [*BODIES, None], NAMES, [True, False])
    for number, (title, unread, body, (first, last), mine) in enumerate(combos):
        if number % 7:
            continue  # a seventh of the combinations: every value still comes with each of the others' kinds
        sender = Sender(first, last, f"sender{number}@example.com")
        last_message = None if body is None else LastMessage(READER if mine else 1000 + number, sender, body)
        found.append(ThreadPreview(int("9" * (1 + number % 12)), title, unread, last_message))
    return found


def _rendered(thread):
    return get_template(chat.THREAD_ROW).render({"t": thread, "user": {"pk": READER}})


@pytest.mark.parametrize("grouped", [False, True])
def test_each_filled_row_is_the_templates_own_render(grouped):
    previews = _previews()
    assert len(previews) > 800
    with override_settings(USE_THOUSAND_SEPARATOR=grouped):
        for thread in previews:
            assert chat._thread_row(thread, READER) == _rendered(thread)
    forms = list(fragments._slotted_forms.values())
    if not grouped:  # 2 × 2 × (mine or not) × (body or none), and no last message: 2 × 5 shapes
        assert len(forms) == 10 and None not in forms
    else:  # an id printed 987,654,321,987 in data-thread-row is not the URL's: the rows are rendered each time
        assert None in forms


def test_a_row_that_is_filled_in_renders_nothing(monkeypatch):
    thread = ThreadPreview(12, "<b>x</b>", 3, LastMessage(1, Sender("A", "B", "a@example.com"), "w" * 120))
    chat._thread_row(thread, READER)  # the shape's form, checked against a real render
    template = get_template(chat.THREAD_ROW)
    monkeypatch.setattr(type(template), "render", lambda *args, **kwargs: pytest.fail("rendered"))
    other = ThreadPreview(345, "Other & more", 17, LastMessage(2, Sender("", "", "zed@example.com"), "v" * 91))
    html = chat._thread_row(other, READER)
    assert 'data-thread-row="345"' in html and "/345/" in html and "Other &amp; more" in html
    assert ">zed:</strong>" in html and "v" * 89 + "…" in html and ">17<" in html


def test_a_row_that_prints_the_body_otherwise_is_rendered_for_each_row(settings, tmp_path):
    """A row printing the body |upper: the slot's text comes out changed, so the form never fits and each row
    is the template's render."""
    source = get_template(chat.THREAD_ROW).template.source.replace("truncatechars:90", "upper")
    (tmp_path / "messaging" / "partials").mkdir(parents=True)
    (tmp_path / chat.THREAD_ROW).write_text(source)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    for number, body in enumerate(["first", "second <b>"]):
        thread = ThreadPreview(number + 1, "T", 1, LastMessage(1, Sender("A", "", "a@example.com"), body))
        assert chat._thread_row(thread, READER) == _rendered(thread)
        assert body.upper().replace("<", "&lt;").replace(">", "&gt;") in _rendered(thread)
    assert list(fragments._slotted_forms.values()) == [None]


# What templates/messaging/partials/dashboard_threads.html printed before its rows were filled in (main, aad0b4a^).
INLINE_LOOP = """{% load chat %}{% recent_threads user 5 as chat_threads %}{% for t in chat_threads %}
    <a href="{% url 'messaging:detail' t.pk %}" class="list-group-item list-group-item-action {% if t.unread %}chat-thread-unread{% endif %}" data-thread-row="{{ t.pk }}">
      <div class="d-flex justify-content-between gap-2">
        <span class="fw-semibold text-truncate">{{ t.title }}</span>
        <span class="badge rounded-pill bg-danger align-self-start {% if not t.unread %}d-none{% endif %}" data-thread-unread>{{ t.unread }}</span>
      </div>
      <div class="small text-body-secondary text-truncate" data-thread-preview>
        {% if t.last_message %}<strong>{% if t.last_message.sender_id == user.pk %}You{% else %}{{ t.last_message.sender.display_name }}{% endif %}:</strong> {% if t.last_message.body %}{{ t.last_message.body|truncatechars:90 }}{% else %}attachment{% endif %}{% else %}No messages yet.{% endif %}
      </div>
    </a>
    {% endfor %}"""
NOW_LOOP = "{% load chat %}{% dashboard_thread_rows user 5 as chat_rows %}{% for row in chat_rows %}\n    {{ row }}    {% endfor %}"


@pytest.mark.django_db
def test_the_box_prints_what_its_inline_loop_printed(settings):
    """Against the database: threads before an order, with unread messages, an attachment's empty body, the
    reader's own last message, a sender without a name, a title to escape; each reader twice (the second from
    the forms)."""
    settings.CHAT_RATE_LIMIT_COUNT = 1000
    client_user, stranger = ClientFactory(first_name="", last_name=""), ClientFactory()
    coaches = [CoachProfileFactory(user__first_name=first).user for first in ("<i>Bo</i>", "", "Cy")]
    for number, coach in enumerate(coaches):
        thread = make_order(client=client_user, coach=coach, title=f"<b>Order {number}</b> & co").thread
        for count in range(number + 2):
            sender = coach if count % 2 else client_user
            services.send_message(thread, actor=sender, body=f"{'x' * 85 * count} {count}")
    before = MessageThread.objects.create(client=client_user, coach=stranger, last_message_at=thread.created_at)
    Message.objects.create(thread=before, sender=stranger, body="")
    engine = engines["django"]
    for reader in (client_user, *coaches, stranger):
        for _visit in range(2):
            context = {"user": reader}
            now = engine.from_string(NOW_LOOP).render(context)
            assert now == engine.from_string(INLINE_LOOP).render(context)
            assert now.count("data-thread-row=") == services.recent_threads(reader, 5).__len__()
    assert None not in fragments._slotted_forms.values()
