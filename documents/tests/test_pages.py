"""The order's documents in the browser: read, compare, comment, revise, the job-match report."""

import pytest
from django.urls import reverse

from documents.models import Comment, JobDescription, Redline
from orders.models import OrderStatus

from . import builders

pytestmark = pytest.mark.django_db


def _versions(order):
    from documents import services

    return services.versions(order)


def test_the_order_page_lists_every_version_with_a_read_link(
    client, order_with_cv, deliver, django_assert_max_num_queries
):
    order = deliver(order_with_cv, builders.CV_V2)
    client.force_login(order.client)
    cv, delivery = (v.asset for v in _versions(order))
    with django_assert_max_num_queries(40):
        html = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "Read, compare and comment" in html
    assert reverse("documents:read", args=[order.pk, cv.pk]) in html
    assert reverse("documents:read", args=[order.pk, delivery.pk]) in html
    assert "Delivery 1: jane-cv-improved.pdf" in html


def test_the_reading_view_renders_headings_and_bullets_with_the_original_one_click_away(client, order_with_cv):
    client.force_login(order_with_cv.client)
    cv = _versions(order_with_cv)[0].asset
    html = client.get(reverse("documents:read", args=[order_with_cv.pk, cv.pk])).content.decode()
    assert '<h2 class="doc-heading doc-h2" data-block="2">EXPERIENCE</h2>' in html
    assert '<li data-block="4">Managed a team of five engineers</li>' in html
    assert reverse("files:download", args=[cv.pk]) in html


def test_a_stranger_gets_404_for_the_order_its_files_and_its_comments(client, order_with_cv, other_client, other_coach):
    cv = _versions(order_with_cv)[0].asset
    comment = _comment(order_with_cv, "Managed a team of five engineers", 4)
    for stranger in (other_client, other_coach):
        client.force_login(stranger)
        assert client.get(reverse("documents:read", args=[order_with_cv.pk, cv.pk])).status_code == 404
        assert client.get(reverse("documents:compare", args=[order_with_cv.pk])).status_code == 404
        assert client.get(reverse("documents:report", args=[order_with_cv.pk])).status_code == 404
        assert client.post(reverse("documents:reply", args=[comment.pk]), {"body": "hi"}).status_code == 404
        assert client.post(reverse("documents:resolve", args=[comment.pk])).status_code == 404
    assert comment.replies.count() == 0


def test_a_file_of_another_order_is_404_even_inside_my_order(client, order_with_cv, upload, other_client):
    theirs = upload(other_client, builders.cv_pdf(["Someone else"]))
    client.force_login(order_with_cv.client)
    assert client.get(reverse("documents:read", args=[order_with_cv.pk, theirs.pk])).status_code == 404


def test_staff_may_read_but_not_comment(client, order_with_cv, staff_user):
    client.force_login(staff_user)
    cv = _versions(order_with_cv)[0].asset
    assert client.get(reverse("documents:read", args=[order_with_cv.pk, cv.pk])).status_code == 200
    response = client.post(
        reverse("documents:comment", args=[order_with_cv.pk, cv.pk]),
        {"block": 4, "quote": "five engineers", "body": "Staff note"},
    )
    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_an_unreadable_delivery_shows_its_message_and_the_order_page_still_loads(client, order_with_cv, upload):
    from orders import services as order_services

    scanned = upload(order_with_cv.coach, builders.pdf_bytes([[]], image=True), "scan.pdf", "delivery")
    order_services.deliver(order_with_cv.pk, actor=order_with_cv.coach, files=[scanned])
    client.force_login(order_with_cv.client)
    page = client.get(reverse("orders:detail", args=[order_with_cv.pk]))
    assert page.status_code == 200
    assert "it is a scanned image" in page.content.decode()
    read = client.get(reverse("documents:read", args=[order_with_cv.pk, scanned.pk])).content.decode()
    assert 'data-failure="no_text_layer"' in read and "Open the original" in read


def test_the_redline_of_delivery_1_against_the_original_is_computed_once(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    client.force_login(order.client)
    url = reverse("documents:compare", args=[order.pk])
    html = client.get(url).content.decode()
    assert "<ins>" in html and "<del>" in html
    assert "words added" in html and "sections changed" in html
    client.get(url)
    assert Redline.objects.count() == 1


def test_the_picker_compares_any_two_versions(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    _request_revision(order)
    order = deliver(order, ["# JANE DOE", "A completely new text about gardening."], "v3.pdf")
    cv, d1, d2 = (v.asset for v in _versions(order))
    client.force_login(order.coach)
    html = client.get(reverse("documents:compare", args=[order.pk]), {"old": cv.pk, "new": d2.pk}).content.decode()
    assert f'<option value="{cv.pk}" selected>' in html and f'<option value="{d2.pk}" selected>' in html
    assert "gardening" in html


def _comment(order, quote, block, body="Please make this stronger."):
    from documents import services

    version = _versions(order)[-1]
    return services.add_comment(order, actor=order.client, version=version, block=block, quote=quote, body=body)


def _request_revision(order):
    from orders import services as order_services

    return order_services.request_revision(order.pk, actor=order.client, note="Please change the text further.")


def test_a_client_comments_on_a_passage_and_it_survives_a_reload(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V1)
    d1 = _versions(order)[-1].asset
    client.force_login(order.client)
    response = client.post(
        reverse("documents:comment", args=[order.pk, d1.pk]),
        {"block": 4, "quote": "Managed a team", "body": "Say what the team achieved."},
    )
    assert response.status_code == 302
    html = client.get(reverse("documents:read", args=[order.pk, d1.pk])).content.decode()
    comment = Comment.objects.get()
    assert f'<mark class="commented" id="passage-{comment.pk}">' in html
    assert "Say what the team achieved." in html


@pytest.mark.parametrize(
    ("data", "status", "phrase"),
    [
        ({"block": 4, "quote": "words that are not there", "body": "x"}, 400, "Select a passage"),
        ({"block": 99, "quote": "Managed a team", "body": "x"}, 400, "Select a passage"),
        ({"block": 4, "quote": "Managed a team", "body": ""}, 400, "Write a comment"),
        ({"block": 4, "quote": "Managed a team", "body": "y" * 4001}, 400, "at most 4000 characters"),
    ],
    ids=["not-in-block", "no-such-block", "empty", "too-long"],
)
def test_a_bad_comment_is_refused_with_a_clear_message(client, order_with_cv, data, status, phrase):
    cv = _versions(order_with_cv)[0].asset
    client.force_login(order_with_cv.client)
    response = client.post(reverse("documents:comment", args=[order_with_cv.pk, cv.pk]), data)
    assert response.status_code == status
    assert phrase in response.content.decode()
    assert not Comment.objects.exists()


def test_comments_are_rate_limited_like_chat(client, order_with_cv, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 2
    cv = _versions(order_with_cv)[0].asset
    client.force_login(order_with_cv.client)
    url = reverse("documents:comment", args=[order_with_cv.pk, cv.pk])
    data = {"block": 4, "quote": "Managed a team", "body": "Again"}
    assert [client.post(url, data).status_code for _ in range(3)] == [302, 302, 429]
    assert Comment.objects.count() == 2


def test_the_coach_replies_and_resolves(client, order_with_cv):
    comment = _comment(order_with_cv, "Managed a team", 4)
    client.force_login(order_with_cv.coach)
    client.post(reverse("documents:reply", args=[comment.pk]), {"body": "Done: added the numbers."})
    client.post(reverse("documents:resolve", args=[comment.pk]))
    comment.refresh_from_db()
    assert comment.resolved_by == order_with_cv.coach and comment.replies.get().body == "Done: added the numbers."


def test_a_revision_request_sent_from_open_comments_carries_them_as_its_checklist(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V1)
    _comment(order, "Managed a team of five engineers", 4, "Add what the team delivered.")
    _comment(order, "Ran weekly planning meetings", 5, "Show the result.")
    client.force_login(order.client)
    response = client.post(reverse("documents:revision", args=[order.pk]), {"note": ""})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS and order.revisions_used == 1
    note = order.events.last().note
    assert "1. “Managed a team of five engineers” — Add what the team delivered." in note
    assert "2. “Ran weekly planning meetings” — Show the result." in note
    assert Comment.objects.filter(sent_in_revision_at__isnull=False).count() == 2


def test_a_revision_from_comments_is_refused_without_open_comments_or_for_the_coach(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V1)
    client.force_login(order.client)
    assert client.post(reverse("documents:revision", args=[order.pk])).status_code == 409
    _comment(order, "Managed a team", 4)
    client.force_login(order.coach)
    assert client.post(reverse("documents:revision", args=[order.pk])).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED and order.revisions_used == 0


def test_the_next_redline_shows_which_commented_passages_changed(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V1)
    changed = _comment(order, "Managed a team of five engineers", 4)
    kept = _comment(order, "Wrote reports for the board", 7)
    client.force_login(order.client)
    client.post(reverse("documents:revision", args=[order.pk]))
    order = deliver(order, builders.CV_V2, "jane-cv-v2.pdf")
    html = client.get(reverse("documents:compare", args=[order.pk])).content.decode()
    assert "Delivery 1" in html and "Delivery 2" in html
    changed_row = html.split(f'data-passage="{changed.pk}"')[1].split("</li>")[0]
    kept_row = html.split(f'data-passage="{kept.pk}"')[1].split("</li>")[0]
    assert "Changed" in changed_row and "Not changed" in kept_row


JOB = (
    "Project Manager. We are looking for a Project Manager with Agile experience. You will lead a team of "
    "engineers, manage budgets and stakeholder communication. Experience with Jira and Agile delivery is "
    "required. Budget management and risk management skills. Stakeholder communication is key."
)


def test_the_client_adds_a_job_and_each_version_shows_its_coverage_and_change(client, order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    client.force_login(order.client)
    response = client.post(reverse("documents:add_job", args=[order.pk]), {"title": "PM at Gamma", "text": JOB})
    assert response.status_code == 302
    html = client.get(reverse("documents:report", args=[order.pk])).content.decode()
    assert "How this report is made" in html
    scores = [int(part.split('"')[0]) for part in html.split('data-score="')[1:]]
    assert len(scores) == 2 and scores[1] > scores[0]
    assert f'data-change="{scores[1] - scores[0]}"' in html
    assert "term-missing" in html and "Contact details" in html and "Reading ease" in html


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("", "Paste the text"),
        ("   ", "Paste the text"),
        ("x" * 50_000, "at most 20,000 characters long (yours has 50,000)"),
    ],
    ids=["empty", "blank", "50000-chars"],
)
def test_a_bad_job_description_is_refused_and_nothing_is_saved(client, order_with_cv, text, phrase):
    client.force_login(order_with_cv.client)
    response = client.post(reverse("documents:add_job", args=[order_with_cv.pk]), {"title": "Job", "text": text})
    assert response.status_code == 400
    assert phrase in response.content.decode()
    assert not JobDescription.objects.exists()


def test_only_the_client_adds_target_jobs(client, order_with_cv):
    client.force_login(order_with_cv.coach)
    assert client.post(reverse("documents:add_job", args=[order_with_cv.pk]), {"text": JOB}).status_code == 403
    assert not JobDescription.objects.exists()
