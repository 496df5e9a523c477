"""Browser journey: the client uploads a CV on the request form (progress bar visible, scanned by a
real clamd), the coach downloads it, delivers a DOCX, and the client downloads the delivery."""

import datetime
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from files.models import FileAsset, ScanStatus
from orders import services as orders
from orders.models import Order, OrderStatus
from orders.tests.conftest import page_as  # noqa: F401 - the logged-in page fixture
from requests_app.models import ServiceRequest

from .samples import docx_bytes, image_bytes, pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"files-{name}.png"), full_page=True)


def slow_uploads(page):
    """Throttle the upload request so the progress bar is on screen long enough to see and capture."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 50, "downloadThroughput": -1, "uploadThroughput": 400 * 1024},
    )
    return session


def test_cv_upload_scan_download_and_delivery(page_as, client_user, coach_user, clamd, artifacts_dir, tmp_path):  # noqa: F811
    profile = coach_user.coach_profile
    client = page_as(client_user)
    client.goto(f"/requests/new/?coach={profile.pk}&service=cv")
    client.locator("#id_title").fill("CV for product roles")
    client.get_by_label("Requirements").fill("Ten years in logistics; moving to product management.")
    client.get_by_label("Deadline").fill((timezone.localdate() + datetime.timedelta(days=10)).isoformat())

    cv = pdf_bytes("Jane Doe CV", padding=600 * 1024)  # big enough for the progress bar to move
    network = slow_uploads(client)
    client.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "Jane Doe CV.pdf", "mimeType": "application/pdf", "buffer": cv}]
    )
    progress = client.locator("[data-progress]")
    expect(progress).to_be_visible()
    expect(client.locator("[data-progress-label]")).to_have_text(re.compile(r"Uploading Jane Doe CV\.pdf… [1-9]\d?%"))
    shot(client, artifacts_dir, "1-request-form-uploading")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    item = client.locator("[data-list] [data-file-id]")
    expect(item).to_have_count(1)
    expect(item.locator("[data-scan-badge]")).to_have_text("Ready", timeout=15_000)  # real clamd said OK
    expect(item.get_by_role("link", name="Preview Jane Doe CV.pdf")).to_be_visible()
    expect(progress).to_have_attribute("aria-valuenow", "100")
    shot(client, artifacts_dir, "2-request-form-uploaded")
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("Your request was sent")).to_be_visible()

    service_request = ServiceRequest.objects.get()
    uploaded = service_request.attachments.get()
    assert uploaded.original_name == "Jane Doe CV.pdf" and uploaded.scan_status == ScanStatus.CLEAN

    # The coach sees the CV on the request, downloads it, accepts; the client pays (payments' job).
    coach = page_as(coach_user)
    coach.goto(f"/requests/{service_request.pk}/")
    with coach.expect_download() as cv_download:
        coach.get_by_role("link", name="Jane Doe CV.pdf").click()
    assert cv_download.value.suggested_filename == "Jane Doe CV.pdf"
    assert Path(cv_download.value.path()).read_bytes() == cv
    order = orders.accept_request(service_request.pk, actor=coach_user)
    orders.mark_paid(order.pk, actor=None)

    coach.goto(f"/orders/{order.pk}/")
    form = coach.locator("#deliver-form")
    form.get_by_label("Message to the client").fill("Here is your new CV.")
    delivered = docx_bytes()
    form.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "Jane Doe CV v2.docx", "mimeType": "application/octet-stream", "buffer": delivered}]
    )
    expect(form.locator("[data-scan-badge]")).to_have_text("Ready", timeout=15_000)
    shot(coach, artifacts_dir, "3-deliver-form")
    form.get_by_role("button", name="Deliver", exact=True).click()
    expect(coach.get_by_role("alert")).to_contain_text("Delivered")
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED

    client.goto(f"/orders/{order.pk}/")
    shot(client, artifacts_dir, "4-order-delivered")
    with client.expect_download() as delivery_download:
        client.get_by_role("link", name="Jane Doe CV v2.docx").click()
    assert delivery_download.value.suggested_filename == "Jane Doe CV v2.docx"
    assert Path(delivery_download.value.path()).read_bytes() == delivered
    assert Order.objects.get().deliveries.get().files.get().category == "delivery"


def test_infected_upload_shows_blocked_in_the_browser(page_as, client_user, clamd, artifacts_dir):  # noqa: F811
    from .samples import EICAR

    client = page_as(client_user, width=375, height=800)
    client.goto("/files/")
    client.locator("input[type=file][name=files]").set_input_files(
        files=[
            {
                "name": "cv.docx",
                "mimeType": "application/octet-stream",
                "buffer": docx_bytes(extra={"word/x.bin": EICAR}),
            }
        ]
    )
    expect(client.locator("tr[data-file-id] [data-scan-badge]")).to_have_text("Blocked: virus found", timeout=15_000)
    client.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "tool.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 64}]
    )
    expect(client.locator("[data-error]")).to_contain_text("PDF (.pdf) or Word (.docx)")
    expect(client.locator("[data-progress-label]")).to_have_text("tool.pdf was not uploaded.")
    shot(client, artifacts_dir, "5-library-mobile-infected")
    assert FileAsset.objects.get().scan_status == ScanStatus.INFECTED


def test_send_is_stopped_once_while_a_refused_file_is_chosen(page_as, client_user, coach_user, artifacts_dir):  # noqa: F811
    """A refused CV must not vanish silently: the first Send says so (typed text kept), the second sends
    without it and the flash says "without an attachment"."""
    client = page_as(client_user)
    client.goto(f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv")
    client.locator("#id_title").fill("CV for product roles")
    client.get_by_label("Requirements").fill("Ten years in logistics; moving to product management.")
    client.get_by_label("Deadline").fill((timezone.localdate() + datetime.timedelta(days=10)).isoformat())
    client.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "tool.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + b"\x00" * 64}]
    )
    expect(client.locator("[data-progress-label]")).to_have_text("tool.pdf was not uploaded.")
    client.get_by_role("button", name="Send request").click()
    error = client.locator("[data-error]")
    expect(error).to_contain_text("“tool.pdf” is not attached")
    expect(error).to_contain_text("press “Send request” again to send without it")
    expect(client.get_by_label("Requirements")).to_have_value("Ten years in logistics; moving to product management.")
    shot(client, artifacts_dir, "9-request-refused-file-blocks-send")
    assert not ServiceRequest.objects.exists()
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("without an attachment (“tool.pdf” was refused)")).to_be_visible()
    shot(client, artifacts_dir, "10-request-sent-without-attachment")
    assert ServiceRequest.objects.get().attachments.count() == 0


def test_a_good_upload_after_a_refused_one_sends_at_once(page_as, client_user, coach_user):  # noqa: F811
    client = page_as(client_user)
    client.goto(f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv")
    client.locator("#id_title").fill("CV for product roles")
    client.get_by_label("Requirements").fill("Ten years in logistics; moving to product management.")
    client.get_by_label("Deadline").fill((timezone.localdate() + datetime.timedelta(days=10)).isoformat())
    field = client.locator("input[type=file][name=files]")
    field.set_input_files(files=[{"name": "tool.pdf", "mimeType": "application/pdf", "buffer": b"MZ" + b"\x00" * 64}])
    expect(client.locator("[data-progress-label]")).to_have_text("tool.pdf was not uploaded.")
    field.set_input_files(files=[{"name": "cv.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("CV")}])
    expect(client.locator("[data-list] [data-file-id]")).to_have_count(1)
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("Your request was sent")).to_be_visible()
    expect(client.get_by_text("refused")).to_have_count(0)
    assert ServiceRequest.objects.get().attachments.count() == 1


def test_cv_from_the_dashboard_is_attached_to_a_request_in_one_click(page_as, client_user, coach_user, artifacts_dir):  # noqa: F811
    """Upload on the dashboard card, then tick it on the request form: no second upload."""
    client = page_as(client_user)
    client.goto("/dashboard/")
    card = client.locator(".cv-card")
    card.locator("input[type=file][name=files]").set_input_files(
        files=[{"name": "Master CV.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Master CV")}]
    )
    expect(card.locator("[data-scan-badge]")).to_have_text("Ready")
    expect(card.get_by_role("link", name="Download Master CV.pdf")).to_be_visible()
    shot(client, artifacts_dir, "6-dashboard-cv-card")
    stored = FileAsset.objects.get(owner=client_user)

    client.goto(f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv")
    client.locator("#id_title").fill("Cover letter tailored to my CV")
    client.get_by_label("Requirements").fill("Please base it on my master CV; target: operations manager roles.")
    client.get_by_label("Deadline").fill((timezone.localdate() + datetime.timedelta(days=7)).isoformat())
    client.get_by_label(re.compile("Master CV.pdf")).check()
    shot(client, artifacts_dir, "7-request-reattach")
    client.get_by_role("button", name="Send request").click()
    expect(client.get_by_text("Your request was sent")).to_be_visible()
    assert list(ServiceRequest.objects.get().attachments.all()) == [stored]
    assert FileAsset.objects.count() == 1


def test_file_list_on_desktop(page_as, client_user, artifacts_dir):  # noqa: F811
    from files import services

    from .samples import upload

    for name in ("CV 2026.pdf", "Cover letter.docx", "Старое резюме.pdf"):
        data = docx_bytes() if name.endswith(".docx") else pdf_bytes()
        services.store_upload(upload(data, name), actor=client_user, category="cv_upload")
    client = page_as(client_user)
    client.goto("/files/")
    client.get_by_label(re.compile("PNG, JPEG or WebP")).set_input_files(
        files=[{"name": "me.jpg", "mimeType": "image/jpeg", "buffer": image_bytes("JPEG", size=(300, 300))}]
    )
    client.get_by_role("button", name="Upload photo").click()
    expect(client.get_by_text("Your photo was uploaded")).to_be_visible()
    expect(client.get_by_role("img", name="Your profile photo")).to_be_visible()
    # An <img> is visible before its bytes arrive: wait for the load, then check what was decoded.
    # (polled from the test side: a wait_for_function predicate would need eval, which the CSP forbids)
    expect(client.locator(".avatar-photo")).to_have_js_property("complete", True)
    assert client.evaluate("document.querySelector('.avatar-photo').naturalWidth") == 300
    rows = client.locator("tr[data-file-id]")
    expect(rows).to_have_count(3)
    expect(rows.first.locator("[data-scan-badge]")).to_have_text("Ready")
    shot(client, artifacts_dir, "8-file-list")
    client.once("dialog", lambda dialog: dialog.accept())
    client.get_by_role("button", name="Delete Старое резюме.pdf").click()
    expect(client.get_by_text("Deleted Старое резюме.pdf.")).to_be_visible()
    expect(rows).to_have_count(2)


def test_pdf_preview_opens_in_the_browser(page_as, client_user, artifacts_dir):  # noqa: F811
    from files import services

    from .samples import upload

    asset = services.store_upload(
        upload(pdf_bytes("Hello preview"), "Preview me.pdf"), actor=client_user, category="cv_upload"
    )
    page = page_as(client_user)
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    response = page.goto(f"/files/{asset.pk}/?preview=1")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    page.wait_for_timeout(1000)
    assert downloads == []  # shown by the browser's PDF viewer, not saved
    shot(page, artifacts_dir, "9-pdf-preview")
