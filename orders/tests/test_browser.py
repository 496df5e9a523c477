"""Journeys in real Chromium: request → accept → pay → deliver → revise → accept → review; reject; withdraw;
an open request raced by two coaches."""

import datetime
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaches.models import CoachProfile
from files.tests.samples import pdf_bytes
from orders import services
from orders.models import Order
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, artifacts_dir, name, full_page=True):
    page.screenshot(path=os.path.join(artifacts_dir, f"orders-{name}.png"), full_page=full_page)


def _deadline(days=12):
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


def test_full_order_journey_with_revision_and_review(
    page_as, client_user, coach_user, staff_user, artifacts_dir, local_media
):
    profile = coach_user.coach_profile
    client = page_as(client_user)
    client.goto(f"/coaches/{profile.pk}/")
    client.get_by_role("link", name=re.compile("Request this coach")).first.click()
    expect(client).to_have_url(re.compile(r"/requests/new/\?coach="))
    client.locator("#id_title").fill("CV for senior product roles")
    client.get_by_label("Requirements").fill("Eight years in B2B SaaS; I want product leadership roles in fintech.")
    client.get_by_label("Deadline").fill(_deadline())
    client.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "my-cv.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes()}]
    )
    expect(client.locator("[data-list] [data-file-id]")).to_have_count(1)
    expect(client.locator("[data-scan-badge]")).to_have_text(re.compile("Ready|Scanning"))
    _shot(client, artifacts_dir, "request-form")
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("Your request was sent")).to_be_visible()
    service_request = ServiceRequest.objects.get()
    assert [a.original_name for a in service_request.attachments.all()] == ["my-cv.pdf"]

    coach = page_as(coach_user)
    coach.goto("/requests/available/")
    coach.get_by_role("link", name="CV for senior product roles").click()
    expect(coach.get_by_text("my-cv.pdf")).to_be_visible()
    coach.get_by_role("button", name=re.compile("^Accept")).click()
    expect(coach).to_have_url(re.compile(r"/orders/\d+/$"))
    order = Order.objects.get()
    expect(coach.get_by_text("Waiting for the client to pay")).to_be_visible()

    services.mark_paid(order.pk, actor=staff_user, note="Marked paid by staff")

    coach.reload()
    coach.get_by_label("Message to the client").fill("First version: new summary and achievements.")
    coach.locator("#upload-input-delivery").set_input_files(
        files=[{"name": "cv-v1.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Version 1")}]
    )
    expect(coach.locator("[data-list] [data-file-id]")).to_have_count(1)
    _shot(coach, artifacts_dir, "order-coach-delivering")
    coach.get_by_role("button", name="Deliver", exact=True).click()
    expect(coach.get_by_text("Delivered. The client has been told.")).to_be_visible()

    client.goto(f"/orders/{order.pk}/")
    expect(client.locator(".delivery")).to_have_count(1)
    expect(client.get_by_role("link", name="cv-v1.pdf")).to_be_visible()
    _shot(client, artifacts_dir, "order-client-delivered")
    client.get_by_label("What should change?").fill("Please put the fintech project first and shorten the summary.")
    client.get_by_role("button", name=re.compile("Request a revision")).click()
    expect(client.get_by_text("Revision requested")).to_have_count(2)  # flash message + timeline row

    coach.reload()
    coach.get_by_label("Message to the client").fill("Second version with your changes.")
    coach.get_by_role("button", name="Deliver", exact=True).click()
    expect(coach.locator(".delivery")).to_have_count(2)

    client.reload()
    client.locator("#accept-delivery > summary").click()
    client.get_by_role("button", name="Yes, accept and pay the coach").click()
    expect(client.get_by_text("Order complete and the coach is paid.")).to_be_visible()
    order.refresh_from_db()
    assert order.status == "completed" and order.revisions_used == 1
    _shot(client, artifacts_dir, "order-timeline")

    client.locator("label[for=rating-5]").click()
    expect(client.get_by_label("5 – Excellent")).to_be_checked()
    client.locator(".review-form").scroll_into_view_if_needed()
    client.locator(".review-form").screenshot(path=os.path.join(artifacts_dir, "orders-review-form.png"))
    client.get_by_label("Your review (public)").fill("Sharp, fast and listened to every comment.")
    client.get_by_role("button", name="Publish review").click()
    expect(client.get_by_text("Thank you for your review.")).to_be_visible()

    client.goto(f"/coaches/{profile.pk}/")
    expect(client.get_by_text("Sharp, fast and listened to every comment.")).to_be_visible()
    expect(client.get_by_text("(1 review)")).to_be_visible()
    profile.refresh_from_db()
    assert (profile.rating_avg, profile.ratings_count) == (5, 1)

    # dashboards of the three roles, and the order page on a narrow phone
    ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, title="Cover letter for fintech")
    client.goto("/dashboard/")
    _shot(client, artifacts_dir, "dashboard-client")
    coach.goto("/orders/")
    _shot(coach, artifacts_dir, "orders-list-coach")
    coach.goto("/dashboard/")
    expect(coach.get_by_text("Cover letter for fintech")).to_be_visible()
    _shot(coach, artifacts_dir, "dashboard-coach")
    staff = page_as(staff_user)
    staff.goto("/dashboard/")
    expect(staff.get_by_text("Orders by status")).to_be_visible()
    _shot(staff, artifacts_dir, "dashboard-staff")
    phone = page_as(client_user, width=360, height=780)
    for name, url in (
        ("order-phone", f"/orders/{order.pk}/"),
        ("dashboard-client-phone", "/dashboard/"),
        ("request-form-phone", f"/requests/new/?coach={profile.pk}&service=cv"),
        ("orders-list-phone", "/orders/"),
    ):
        phone.goto(url)
        _shot(phone, artifacts_dir, name)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 360, url


def test_coach_rejects_a_request_with_a_reason(page_as, client_user, coach_user, artifacts_dir):
    service_request = ServiceRequestFactory(
        client=client_user, coach=coach_user.coach_profile, title="LinkedIn refresh"
    )
    coach = page_as(coach_user)
    coach.goto(f"/requests/{service_request.pk}/")
    coach.get_by_label(re.compile("Reason")).fill("Fully booked until next month, sorry.")
    _shot(coach, artifacts_dir, "request-detail-coach")
    coach.get_by_role("button", name="Reject").click()
    expect(coach.get_by_text("The client has been told")).to_be_visible()

    client = page_as(client_user)
    client.goto("/requests/")
    row = client.locator(f'[data-request-id="{service_request.pk}"]')
    expect(row.get_by_text("Rejected")).to_be_visible()
    expect(row.get_by_text("Fully booked until next month")).to_be_visible()
    _shot(client, artifacts_dir, "requests-list")
    client.goto("/notifications/")
    expect(client.get_by_text(re.compile("cannot take your request"))).to_be_visible()


def test_client_withdraws_a_request(page_as, client_user, coach_user):
    service_request = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, title="Old request")
    client = page_as(client_user)
    client.goto("/requests/")
    client.get_by_role("button", name=re.compile("Withdraw")).click()
    expect(client.get_by_text("You withdrew")).to_be_visible()
    expect(client.locator(f'[data-request-id="{service_request.pk}"]').get_by_text("Withdrawn")).to_be_visible()
    service_request.refresh_from_db()
    assert service_request.status == RequestStatus.WITHDRAWN
    coach = page_as(coach_user)
    coach.goto("/requests/available/")
    expect(coach.get_by_text("Old request")).to_have_count(0)


def test_open_request_taken_by_one_of_two_coaches(page_as, client_user, coach_user, other_coach, artifacts_dir):
    client = page_as(client_user)
    client.goto("/requests/new/")
    client.get_by_label("Service").select_option("cv")
    client.locator("#id_title").fill("Graduate CV, any coach")
    client.get_by_label("Requirements").fill("Finishing a chemistry degree; applying to graduate schemes.")
    client.get_by_label("Deadline").fill(_deadline())
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("Your open request was published")).to_be_visible()
    service_request = ServiceRequest.objects.get()

    first, second = page_as(coach_user), page_as(other_coach)
    for page in (first, second):
        page.goto("/requests/available/")
        page.get_by_role("link", name="Graduate CV, any coach").click()
        expect(page.get_by_role("button", name=re.compile("^Accept"))).to_be_visible()
    first.get_by_role("button", name=re.compile("^Accept")).click()
    expect(first).to_have_url(re.compile(r"/orders/\d+/$"))
    second.get_by_role("button", name=re.compile("^Accept")).click()
    expect(second.get_by_text("Sorry, this request has already been taken.")).to_be_visible()
    _shot(second, artifacts_dir, "already-taken")

    assert Order.objects.filter(request=service_request).count() == 1
    assert Order.objects.get().coach == coach_user
    second.goto("/requests/available/")
    expect(second.get_by_text("Graduate CV, any coach")).to_have_count(0)
    client.goto("/requests/")
    expect(client.get_by_role("link", name="Open order")).to_be_visible()
    assert CoachProfile.objects.get(user=coach_user).requests.filter(pk=service_request.pk).exists()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_delivered_order_shows_the_work_before_asking_to_accept_it(
    page_as, paid_order, coach_user, width, artifacts_dir
):
    for round_note in ("First draft", "Second pass"):
        services.deliver(paid_order.pk, actor=coach_user, note=round_note)
        if round_note == "First draft":
            services.request_revision(paid_order.pk, actor=paid_order.client, note="Shorter summary, please")
    page = page_as(paid_order.client, width=width)

    page.goto(f"/orders/{paid_order.pk}/")
    deliveries = page.get_by_role("heading", name="Deliveries").bounding_box()
    accept = page.locator("#accept-delivery > summary").bounding_box()
    timeline = page.get_by_role("heading", name="Timeline").bounding_box()
    _shot(page, artifacts_dir, f"delivered-{width}")

    if width < 992:  # one column: the work, then the decision, then the history
        assert deliveries["y"] < accept["y"] < timeline["y"]
    else:  # the decision beside the work, the history under the work with no gap
        assert accept["x"] > deliveries["x"] + deliveries["width"]
        assert timeline["y"] - deliveries["y"] < 700


@pytest.mark.parametrize("width, height", [(375, 812), (1280, 900)])
def test_accepting_asks_once_more_then_puts_the_review_form_in_view(
    page_as, paid_order, coach_user, width, height, artifacts_dir
):
    services.deliver(paid_order.pk, actor=coach_user, note="Final version")
    paid_order.refresh_from_db()
    page = page_as(paid_order.client, width=width, height=height)
    page.goto(f"/orders/{paid_order.pk}/")
    expected = paid_order.completes_by_itself_at.strftime("%-d %b %Y")
    expect(page.locator("[data-auto-complete]")).to_contain_text(f"completes and the coach is paid on {expected}")

    page.locator("#accept-delivery > summary").click()
    confirm = page.get_by_role("button", name="Yes, accept and pay the coach")
    expect(confirm).to_be_visible()
    expect(page.get_by_text("Accept and pay the coach?")).to_be_visible()
    _shot(page, artifacts_dir, f"accept-confirm-{width}")
    paid_order.refresh_from_db()
    assert paid_order.status == "delivered"  # opening the confirmation changed nothing

    confirm.click()
    expect(page.get_by_text("Order complete and the coach is paid.")).to_be_visible()
    expect(page.get_by_role("heading", name="How did it go?")).to_be_in_viewport()
    _shot(page, artifacts_dir, f"accepted-review-first-{width}", full_page=False)
    paid_order.refresh_from_db()
    assert paid_order.status == "completed"
