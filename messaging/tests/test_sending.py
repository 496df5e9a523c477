"""Sending through the plain form (no JavaScript) and its JSON variant; the service's rules."""

import pytest
from django.conf import settings
from django.urls import reverse

from core.exceptions import DomainError, RateLimited
from files.models import FileAsset, ScanStatus
from files.scanner import Verdict
from files.services import record_verdict, store_upload
from messaging import services
from messaging.models import Message


def post_url(thread):
    return reverse("messaging:messages", args=[thread.pk])


def test_form_post_with_csrf_saves_and_redirects_to_the_message(csrf_client, thread, client_user):
    csrf_client.force_login(client_user)
    page = csrf_client.get(reverse("messaging:detail", args=[thread.pk]))
    token = page.cookies["csrftoken"].value
    client_token = page.context["form"].initial["client_token"]
    response = csrf_client.post(
        post_url(thread), {"body": "Hello!", "client_token": client_token, "csrfmiddlewaretoken": token}
    )
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/threads/{thread.pk}/#m{message.pk}")
    assert message.body == "Hello!" and message.sender == client_user and message.client_token == client_token
    # A double submit of the same rendered form is saved once.
    again = csrf_client.post(
        post_url(thread), {"body": "Hello!", "client_token": client_token, "csrfmiddlewaretoken": token}
    )
    assert again.status_code == 302
    assert Message.objects.count() == 1


def test_form_post_without_csrf_token_is_refused(csrf_client, thread, client_user):
    csrf_client.force_login(client_user)
    assert csrf_client.post(post_url(thread), {"body": "Hello!"}).status_code == 403
    assert Message.objects.count() == 0


def test_json_post_answers_201_with_the_message(client, thread, coach_user):
    client.force_login(coach_user)
    response = client.post(post_url(thread), {"body": "See https://example.com"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    data = response.json()["message"]
    assert data["sender_id"] == coach_user.pk
    assert 'rel="nofollow noopener noreferrer"' in data["html"]


def test_empty_message_is_refused_with_the_form_kept(client, thread, client_user):
    client.force_login(client_user)
    response = client.post(post_url(thread), {"body": "   "})
    assert response.status_code == 400
    assert "Write a message or attach a file" in response.content.decode()
    assert Message.objects.count() == 0


def test_over_long_message_is_refused(client, thread, client_user, settings):
    client.force_login(client_user)
    body = "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1)
    response = client.post(post_url(thread), {"body": body}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "at most 4000 characters" in response.json()["error"]
    assert Message.objects.count() == 0


def test_html_is_shown_as_text(client, thread, client_user, coach_user):
    services.send_message(thread, actor=coach_user, body='<script>alert("x")</script><img src=x onerror=alert(1)>')
    client.force_login(client_user)
    html = client.get(reverse("messaging:detail", args=[thread.pk])).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_flood_is_answered_429(client, thread, client_user, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 2
    client.force_login(client_user)
    statuses = [client.post(post_url(thread), {"body": f"m{n}"}).status_code for n in range(3)]
    assert statuses == [302, 302, 429]
    assert Message.objects.count() == 2
    json_reply = client.post(post_url(thread), {"body": "m4"}, HTTP_ACCEPT="application/json")
    assert json_reply.status_code == 429
    assert "too quickly" in json_reply.json()["error"]


def test_rate_limit_is_per_user(thread, client_user, coach_user, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 1
    services.send_message(thread, actor=client_user, body="one")
    with pytest.raises(RateLimited):
        services.send_message(thread, actor=client_user, body="two")
    services.send_message(thread, actor=coach_user, body="the coach is not limited by the client")


def test_staff_post_is_marked_as_moderator(client, thread, staff_user):
    client.force_login(staff_user)
    client.post(post_url(thread), {"body": "Moderator here"})
    assert Message.objects.get().is_moderator


def test_service_refuses_strangers(thread, other_client):
    from core.exceptions import NotPermitted

    with pytest.raises(NotPermitted):
        services.send_message(thread, actor=other_client, body="let me in")
    assert Message.objects.count() == 0


def test_broadcast_happens_after_commit(thread, client_user, django_capture_on_commit_callbacks, monkeypatch):
    pushed = []
    monkeypatch.setattr("messaging.realtime.message_created", lambda data, thread: pushed.append(data["id"]))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = services.send_message(thread, actor=client_user, body="hi")
    assert pushed == []  # nothing is told before the transaction commits
    for callback in callbacks:
        callback()
    assert pushed == [message.pk]


class TestAttachments:
    @pytest.fixture(autouse=True)
    def _media(self, media_root):
        return media_root

    def test_plain_file_upload_without_javascript(self, client, thread, client_user, pdf_upload):
        client.force_login(client_user)
        response = client.post(post_url(thread), {"body": "My CV", "files": [pdf_upload("cv.pdf")]})
        assert response.status_code == 302
        message = Message.objects.get()
        asset = message.attachments.get()
        assert asset.original_name == "cv.pdf" and asset.owner == client_user
        assert asset.category == "message_attachment"

    def test_file_only_message_is_allowed(self, client, thread, client_user, pdf_upload):
        client.force_login(client_user)
        assert client.post(post_url(thread), {"body": "", "files": [pdf_upload()]}).status_code == 302
        assert Message.objects.get().body == ""

    def test_attachment_ids_from_the_upload_widget(self, client, thread, client_user, pdf_upload):
        asset = store_upload(pdf_upload(), actor=client_user, category="message_attachment")
        client.force_login(client_user)
        client.post(post_url(thread), {"body": "Draft", "attachment_ids": [asset.pk]})
        assert list(Message.objects.get().attachments.all()) == [asset]

    def test_someone_elses_upload_cannot_be_attached(self, client, thread, client_user, other_client, pdf_upload):
        asset = store_upload(pdf_upload(), actor=other_client, category="message_attachment")
        client.force_login(client_user)
        response = client.post(post_url(thread), {"body": "Draft", "attachment_ids": [asset.pk]})
        assert response.status_code == 400
        assert Message.objects.count() == 0

    def test_refused_upload_type_saves_nothing(self, client, thread, client_user):
        from django.core.files.uploadedfile import SimpleUploadedFile

        client.force_login(client_user)
        exe = SimpleUploadedFile("virus.exe", b"MZ\x90\x00" + b"\x00" * 100)
        response = client.post(post_url(thread), {"body": "Look", "files": [exe]})
        assert response.status_code == 415
        assert Message.objects.count() == 0
        assert FileAsset.objects.count() == 0

    def test_other_party_downloads_only_once_clean(self, client, thread, client_user, coach_user, pdf_upload):
        asset = store_upload(pdf_upload("draft.pdf"), actor=coach_user, category="message_attachment")
        services.send_message(thread, actor=coach_user, body="Draft 1", attachments=[asset])
        client.force_login(client_user)
        page = client.get(reverse("messaging:detail", args=[thread.pk])).content.decode()
        assert "draft.pdf" in page and "scanning" in page
        assert reverse("files:download", args=[asset.pk]) not in page
        record_verdict(asset.pk, Verdict(infected=False))
        assert FileAsset.objects.get(pk=asset.pk).scan_status == ScanStatus.CLEAN
        page = client.get(reverse("messaging:detail", args=[thread.pk])).content.decode()
        assert reverse("files:download", args=[asset.pk]) in page
        download = client.get(reverse("files:download", args=[asset.pk]), follow=True)
        assert download.status_code == 200
        assert b"".join(download.streaming_content).startswith(b"%PDF")

    def test_stranger_cannot_download_a_thread_attachment(self, client, thread, coach_user, other_client, pdf_upload):
        asset = store_upload(pdf_upload(), actor=coach_user, category="message_attachment")
        services.send_message(thread, actor=coach_user, body="Draft", attachments=[asset])
        record_verdict(asset.pk, Verdict(infected=False))
        client.force_login(other_client)
        assert client.get(reverse("files:download", args=[asset.pk])).status_code == 404


def test_body_is_normalised(thread, client_user):
    message = services.send_message(thread, actor=client_user, body="  line one\r\nline two  ")
    assert message.body == "line one\nline two"
    with pytest.raises(DomainError):
        services.send_message(thread, actor=client_user, body="\x00\x00")


class TestBroadcastForms:
    """A fresh message carries both forms of its markup (the sender's, everyone else's): the part that reads
    the same for both (body, attachments, time) is rendered once, and each form is what the thread page
    renders for that viewer."""

    @pytest.fixture(autouse=True)
    def _media(self, media_root):
        return media_root

    def test_each_form_is_the_viewers_partial(self, thread, client_user, coach_user, pdf_upload):
        from messaging import realtime

        assets = [store_upload(pdf_upload(name), actor=client_user, category="message_attachment") for name in "ab"]
        record_verdict(assets[0].pk, Verdict(infected=False))  # one downloadable, one still being scanned
        message = services.send_message(
            thread, actor=client_user, body="See <b>www.example.com</b> & this", attachments=assets
        )
        attachments = list(message.attachments.all())
        mine = realtime.message_html(message, attachments, viewer_id=client_user.pk)
        theirs = realtime.message_html(message, attachments, viewer_id=coach_user.pk)
        assert message.payload["html_by_sender"] == mine and message.payload["html_by_others"] == theirs
        assert "You</span>" in mine and "data-status" in mine and "data-status" not in theirs
        assert "&lt;b&gt;" in mine and 'href="http://www.example.com"' in mine
        assert mine.count("data-attachment-id=") == 2 and "scanning" in mine
        assert reverse("files:download", args=[assets[0].pk]) in mine
        assert reverse("files:download", args=[assets[1].pk]) not in mine

    def test_the_shared_part_and_the_links_are_made_once_per_message(self, thread, client_user, monkeypatch):
        """And the partial itself not at all once its slotted forms are made (the first message of a shape)."""
        from django.test.signals import template_rendered

        from messaging import realtime

        monkeypatch.setattr(realtime, "_forms", {})
        services.send_message(thread, actor=client_user, body="The first makes the forms")
        rendered, urlized = [], []
        urlize = realtime.urlize
        monkeypatch.setattr(realtime, "urlize", lambda *a, **k: urlized.append(1) or urlize(*a, **k))
        template_rendered.connect(receiver := lambda sender, template, **_: rendered.append(template.name))
        try:
            services.send_message(thread, actor=client_user, body="A body seen once www.example.org")
        finally:
            template_rendered.disconnect(receiver)
        assert rendered.count(realtime.SHARED_PARTIAL) == 1
        assert rendered.count(realtime.MESSAGE_PARTIAL) == 0
        assert len(urlized) == 1

    def test_the_slotted_forms_are_the_viewers_partial(
        self, thread, client_user, coach_user, staff_user, pdf_upload, monkeypatch
    ):
        """Every shape (sender or not, moderator or not, with a client token or none), names and tokens that
        need escaping, attachments: each form of the payload is byte for byte the partial rendered for that
        viewer, for the message that made the forms and for every one after."""
        from messaging import realtime

        monkeypatch.setattr(realtime, "_forms", {})
        client_user.first_name, client_user.last_name = "Zoë <b>&", 'O\'Brien "x"'
        client_user.save()
        staff_user.first_name = "<i>Mod</i>"
        staff_user.save()
        asset = store_upload(pdf_upload("a <b>.pdf"), actor=coach_user, category="message_attachment")
        record_verdict(asset.pk, Verdict(infected=False))
        sends = []
        for n in range(2):
            for actor in (client_user, coach_user, staff_user):
                for token in ("", f'"><script>{n}&amp;', f"tok-{n}-{actor.pk}"):
                    files = [asset] if actor == coach_user and token == "" and n == 1 else []
                    sends.append(
                        services.send_message(
                            thread, actor=actor, body=f"www.example.com <{n}>", client_token=token, attachments=files
                        )
                    )
        assert any(m.attachments.exists() for m in sends) and all(form for form in realtime._forms.values())
        assert len(realtime._forms) == 8  # sender or not × moderator or not × token or not
        for message in sends:
            attachments = list(message.attachments.all())
            others = realtime.message_html(message, attachments, viewer_id=None)
            assert message.payload["html_by_sender"] == realtime.message_html(
                message, attachments, viewer_id=message.sender_id
            )
            assert message.payload["html_by_others"] == others
        assert "Zoë &lt;b&gt;&amp;" in sends[0].payload["html_by_others"]
        assert "&quot;&gt;&lt;script&gt;0&amp;amp;" in sends[1].payload["html_by_others"]

    def test_a_partial_that_prints_more_than_the_slots_is_rendered_each_time(
        self, thread, client_user, coach_user, monkeypatch, caplog
    ):
        """The first fill of a shape is checked against a real render: a slot the partial does not print as
        it prints the value (here the name, as if the partial changed how it shows it) is never used."""
        from messaging import realtime

        monkeypatch.setattr(realtime, "_forms", {})
        real_init = realtime._SlotMessage.__init__

        def changed(self, **kwargs):
            real_init(self, **kwargs)
            self.sender = {"display_name": "Someone"}

        monkeypatch.setattr(realtime._SlotMessage, "__init__", changed)
        for body in ("one", "two"):
            message = services.send_message(thread, actor=coach_user, body=body)
            attachments = list(message.attachments.all())
            assert message.payload["html_by_others"] == realtime.message_html(message, attachments, viewer_id=None)
            assert message.payload["html_by_sender"] == realtime.message_html(
                message, attachments, viewer_id=coach_user.pk
            )
        assert [form is None for form in realtime._forms.values()].count(True) == 1  # the others' form
        assert "prints more than the slots" in caplog.text


@pytest.mark.django_db(transaction=True)  # the save commits: its after-commit bumps run
def test_a_message_bumps_its_cache_versions_in_one_round_trip_after_commit(thread, client_user, monkeypatch):
    """The rate limit, then the thread lists' and pages' version bumps together once the message commits
    (their immediate half waits for the commit: nothing in the save reads a cached value)."""
    from conftest import require_service

    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    from redis.client import Pipeline, Redis

    from core.cache import bump_version_now
    from messaging.services import recent_threads

    before = recent_threads(coach_user := thread.coach, 5)
    bump_version_now("probe", 1)  # the bump script is loaded on this server
    trips = []
    command, pipeline = Redis.execute_command, Pipeline.execute
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: trips.append(a) or command(self, *a, **k))
    monkeypatch.setattr(
        Pipeline, "execute", lambda self, *a, **k: trips.append(("pipeline",)) or pipeline(self, *a, **k)
    )
    services.send_message(thread, actor=client_user, body="Counted")
    monkeypatch.undo()
    bumps = [trip for trip in trips if trip[0] == "EVALSHA"]  # core.cache's bump script: SET NX + INCR per key
    assert len(bumps) == 1 and bumps[0][2] >= 2  # at least both users' thread lists
    assert before == [] and [t.pk for t in recent_threads(coach_user, 5)] == [thread.pk]
