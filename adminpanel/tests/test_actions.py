"""Every console action: staff can run it (through the owning service, audited with the IP); others cannot."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import ClientFactory, StaffFactory, UserFactory
from audit.models import AuditLog

from .helpers import file_asset

IP = "203.0.113.7"


def changelist(model: str) -> str:
    app, name = model.split(".")
    return reverse(f"admin:{app}_{name}_changelist")


def run(client, model, action, objects, **fields):
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **fields}
    return client.post(changelist(model), data, REMOTE_ADDR=IP)


def audit_rows(action, target):
    return AuditLog.objects.filter(action=action, target_type=target._meta.label_lower, target_id=str(target.pk))


def messages_of(response):
    return [str(m) for m in response.wsgi_request._messages]


# --- Users ------------------------------------------------------------------------------------


def test_suspend_asks_for_a_reason_then_suspends_logs_out_emails_and_audits(
    staff_client, staff_user, client_user, password, django_capture_on_commit_callbacks
):
    victim_browser = Client()
    assert victim_browser.login(email=client_user.email, password=password)
    form = run(staff_client, "accounts.user", "suspend_users", [client_user])
    assert form.status_code == 200
    assert b'name="reason"' in form.content and b'name="confirm"' in form.content
    client_user.refresh_from_db()
    assert client_user.account_status == "active"  # the form page changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = run(staff_client, "accounts.user", "suspend_users", [client_user], confirm="yes", reason="Spam")
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.account_status == "suspended" and client_user.suspended_reason == "Spam"
    row = audit_rows("account.suspend", client_user).get()
    assert row.actor == staff_user and row.ip_address == IP and row.details["reason"] == "Spam"
    assert [m.to for m in mail.outbox] == [[client_user.email]]
    # The suspended user's open session is gone: the next request is sent to the login page.
    bounced = victim_browser.get(reverse("dashboard"))
    assert bounced.status_code == 302 and reverse("account_login") in bounced["Location"]


def test_suspend_without_a_reason_shows_the_form_again(staff_client, client_user):
    response = run(staff_client, "accounts.user", "suspend_users", [client_user], confirm="yes", reason="  ")
    assert response.status_code == 400
    assert b"Give a reason" in response.content or b"This field is required" in response.content
    client_user.refresh_from_db()
    assert client_user.account_status == "active"
    assert not AuditLog.objects.filter(action="account.suspend").exists()


def test_suspending_yourself_is_refused(staff_client, staff_user):
    response = run(staff_client, "accounts.user", "suspend_users", [staff_user], confirm="yes", reason="Oops")
    assert response.status_code == 302
    staff_user.refresh_from_db()
    assert staff_user.account_status == "active"
    assert any("your own account" in m for m in messages_of(response))
    assert not AuditLog.objects.filter(action="account.suspend").exists()


def test_suspending_the_last_active_staff_account_is_refused(staff_user):
    root = UserFactory(is_superuser=True)  # a superuser outside the staff role: the only other admin
    browser = Client()
    browser.force_login(root)
    response = run(browser, "accounts.user", "suspend_users", [staff_user], confirm="yes", reason="Test")
    staff_user.refresh_from_db()
    assert staff_user.account_status == "active"
    assert any("last active staff" in m for m in messages_of(response))


def test_reactivate_lifts_a_suspension(staff_client, staff_user, client_user):
    from accounts.services import suspend_user

    suspend_user(client_user, actor=staff_user, reason="Checking")
    response = run(staff_client, "accounts.user", "reactivate_users", [client_user])
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.account_status == "active"
    assert audit_rows("account.reactivate", client_user).get().ip_address == IP


def test_resend_verification_email_to_an_unverified_user(staff_client, staff_user):
    fresh = ClientFactory(verified=False)
    response = run(staff_client, "accounts.user", "resend_verification_email", [fresh])
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[fresh.email]]
    row = audit_rows("account.resend_verification", fresh).get()
    assert row.actor == staff_user and row.ip_address == IP


def test_resend_verification_skips_verified_users(staff_client, client_user):
    response = run(staff_client, "accounts.user", "resend_verification_email", [client_user])
    assert mail.outbox == []
    assert not audit_rows("account.resend_verification", client_user).exists()
    assert any("already verified" in m for m in messages_of(response))


def test_user_list_links_to_the_users_orders_payments_and_files(staff_client, client_user, coach_user):
    response = staff_client.get(changelist("accounts.user"), {"q": client_user.email})
    html = response.content.decode()
    assert f"/admin/orders/order/?client__id__exact={client_user.pk}" in html
    assert f"/admin/files/fileasset/?owner__id__exact={client_user.pk}" in html
    response = staff_client.get(changelist("accounts.user"), {"q": coach_user.email})
    html = response.content.decode()
    assert f"/admin/orders/order/?coach__id__exact={coach_user.pk}" in html
    assert f"/staff/transactions/?coach={coach_user.pk}" in html
    # The linked lists accept those filters.
    assert staff_client.get(changelist("orders.order"), {"client__id__exact": client_user.pk}).status_code == 200
    assert staff_client.get(changelist("files.fileasset"), {"owner__id__exact": client_user.pk}).status_code == 200


# --- Coaches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action,verified,audit_action", [("verify", True, "coach.verify"), ("unverify", False, "coach.unverify")]
)
def test_verify_and_unverify_coaches(staff_client, staff_user, coach_user, action, verified, audit_action):
    profile = coach_user.coach_profile
    profile.is_verified = not verified
    profile.save()
    response = run(staff_client, "coaches.coachprofile", action, [profile])
    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.is_verified is verified
    row = audit_rows(audit_action, profile).get()
    assert row.actor == staff_user and row.ip_address == IP


# --- Reviews ----------------------------------------------------------------------------------


def test_hide_and_show_a_review(staff_client, staff_user, reviewed_order):
    review = reviewed_order
    run(staff_client, "orders.review", "hide_reviews", [review])
    review.refresh_from_db()
    assert review.is_hidden
    review.coach.refresh_from_db()
    assert review.coach.ratings_count == 0
    assert audit_rows("review.hide", review).get().ip_address == IP
    run(staff_client, "orders.review", "unhide_reviews", [review])
    review.refresh_from_db()
    assert not review.is_hidden
    assert audit_rows("review.show", review).get().actor == staff_user


# --- Orders -----------------------------------------------------------------------------------


def test_cancel_an_unpaid_order_with_a_reason(staff_client, staff_user, order):
    form = run(staff_client, "orders.order", "cancel_orders", [order])
    assert form.status_code == 200 and b'name="reason"' in form.content
    response = run(staff_client, "orders.order", "cancel_orders", [order], confirm="yes", reason="Duplicate order")
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled"
    row = audit_rows("order.cancel", order).get()  # one row: the service's, with the console's IP
    assert row.actor == staff_user and row.ip_address == IP
    assert order.events.filter(to_status="cancelled", note="Duplicate order", actor=staff_user).exists()


def test_cancelling_a_paid_order_is_refused(staff_client, paid_order):
    response = run(staff_client, "orders.order", "cancel_orders", [paid_order], confirm="yes", reason="No")
    paid_order.refresh_from_db()
    assert paid_order.status == "in_progress"
    assert any("not possible" in m for m in messages_of(response))
    assert not audit_rows("order.cancel", paid_order).exists()


def test_resolve_dispute_with_a_partial_refund(
    staff_client, staff_user, disputed_order, django_capture_on_commit_callbacks
):
    from payments.models import LedgerEntry, Payment

    order = disputed_order
    form = run(staff_client, "orders.order", "resolve_dispute", [order])
    assert form.status_code == 200
    page = form.content.decode()
    assert "Refundable now" in page
    assert "Reason given" in page and "The CV was not what we agreed." in page  # what staff decide on
    assert "Nothing delivered yet" in page
    refund = order.amount_minor // 4
    with django_capture_on_commit_callbacks(execute=True):
        response = run(
            staff_client,
            "orders.order",
            "resolve_dispute",
            [order],
            confirm="yes",
            outcome="partial",
            amount=f"{refund / 100:.2f}",
            note="Half the work was fine.",
        )
    assert response.status_code == 302, response.content
    order.refresh_from_db()
    assert order.status == "completed"
    payment = Payment.objects.get(order=order)
    assert payment.refunded_minor == refund and payment.status == "partially_refunded"
    assert LedgerEntry.objects.filter(order=order, entry_type="refund", gross_minor=-refund).exists()
    row = audit_rows("payment.dispute_resolved", order).get()
    assert row.actor == staff_user and row.ip_address == IP and row.details["refund_minor"] == refund


def test_resolve_dispute_release_and_full_refund(staff_client, disputed_order):
    order = disputed_order
    run(staff_client, "orders.order", "resolve_dispute", [order], confirm="yes", outcome="full", note="Refund all")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert audit_rows("payment.dispute_resolved", order).get().details["refund_minor"] == order.amount_minor


def test_resolve_dispute_release_to_coach(staff_client, disputed_order):
    order = disputed_order
    run(staff_client, "orders.order", "resolve_dispute", [order], confirm="yes", outcome="release", note="Fine")
    order.refresh_from_db()
    assert order.status == "completed"
    assert audit_rows("payment.dispute_resolved", order).get().details["refund_minor"] == 0


@pytest.mark.parametrize(
    "fields,error",
    [
        ({"outcome": "partial", "amount": "999999.00"}, "choose a full refund"),
        ({"outcome": "partial"}, "Enter the amount to refund"),
        ({"outcome": "partial", "amount": "-3"}, "greater than or equal to 0"),
        ({"outcome": "sideways"}, "Select a valid choice"),
    ],
)
def test_resolve_dispute_refuses_bad_amounts_and_changes_nothing(staff_client, disputed_order, fields, error):
    from payments.models import Payment

    response = run(staff_client, "orders.order", "resolve_dispute", [disputed_order], confirm="yes", note="x", **fields)
    assert response.status_code == 400
    assert error in response.content.decode()
    disputed_order.refresh_from_db()
    assert disputed_order.status == "disputed"
    assert Payment.objects.get(order=disputed_order).refunded_minor == 0
    assert not AuditLog.objects.filter(action__startswith="payment.refund").exists()


def test_resolve_dispute_on_an_order_that_is_not_disputed(staff_client, paid_order):
    response = run(staff_client, "orders.order", "resolve_dispute", [paid_order])
    assert response.status_code == 302
    assert any("not disputed" in m for m in messages_of(response))


def test_refund_on_an_unpaid_disputed_order_is_refused():
    """An order is disputed only after payment; the form refuses a refund without a captured payment."""
    from payments.admin import DisputeResolutionForm

    form = DisputeResolutionForm({"outcome": "full", "note": "x"}, refundable_minor=0, currency="GBP")
    assert not form.is_valid() and "no captured payment" in str(form.errors)


# --- Files ------------------------------------------------------------------------------------


def test_rescan_a_file_whose_scan_failed(staff_client, staff_user, client_user, django_capture_on_commit_callbacks):
    asset = file_asset(client_user, "x.pdf", detail="clamd timed out")
    response = run(staff_client, "files.fileasset", "rescan", [asset])
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.scan_status != "error" or asset.scan_detail != "clamd timed out"
    row = audit_rows("file.rescan", asset).get()
    assert row.actor == staff_user and row.ip_address == IP


# --- Who may ------------------------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "client", "coach"])
def outsider(request, client_user, coach_user):
    browser = Client()
    if request.param == "client":
        browser.force_login(client_user)
    elif request.param == "coach":
        browser.force_login(coach_user)
    return browser


def test_outsiders_cannot_run_any_action(outsider, client_user, coach_user, order, staff_user, other_coach):
    other = ClientFactory()
    profile = coach_user.coach_profile
    verified = other_coach.coach_profile
    verified.is_verified = True
    verified.save()
    asset = file_asset(client_user, "y.pdf")
    attempts = [
        ("coaches.coachprofile", "unverify", [verified], {}),
        ("files.fileasset", "rescan", [asset], {}),
        ("accounts.user", "suspend_users", [other], {"confirm": "yes", "reason": "x"}),
        ("accounts.user", "reactivate_users", [other], {}),
        ("accounts.user", "resend_verification_email", [other], {}),
        ("coaches.coachprofile", "verify", [profile], {}),
        ("orders.order", "cancel_orders", [order], {"confirm": "yes", "reason": "x"}),
        ("orders.order", "resolve_dispute", [order], {"confirm": "yes", "outcome": "release", "note": "x"}),
    ]
    for model, action, objects, fields in attempts:
        response = run(outsider, model, action, objects, **fields)
        assert response.status_code in (302, 403), (action, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"]
    other.refresh_from_db()
    order.refresh_from_db()
    profile.refresh_from_db()
    assert other.account_status == "active" and order.status == "pending" and not profile.is_verified
    verified.refresh_from_db()
    asset.refresh_from_db()
    assert verified.is_verified and asset.scan_status == "error"
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
def test_outsiders_cannot_hide_reviews(request, reviewed_order, who):
    browser = Client()
    browser.force_login(request.getfixturevalue(who))
    for action in ("hide_reviews", "unhide_reviews"):
        response = run(browser, "orders.review", action, [reviewed_order])
        assert response.status_code == 302 and "/login/" in response["Location"]
    reviewed_order.refresh_from_db()
    assert not reviewed_order.is_hidden
    assert not AuditLog.objects.filter(action__startswith="review.").exists()


def test_staff_edits_in_a_form_are_audited(staff_client, staff_user, client_user):
    url = reverse("admin:accounts_user_change", args=[client_user.pk])
    response = staff_client.post(
        url, {"first_name": "Renamed", "last_name": client_user.last_name, "phone": "", "role": "admin"}, REMOTE_ADDR=IP
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.first_name == "Renamed" and client_user.role == "client"  # role is read-only for staff
    row = audit_rows("admin.change", client_user).get()
    assert row.actor == staff_user and row.ip_address == IP and "first_name" in row.details["fields"]
    assert mail.outbox == []


def test_action_post_without_csrf_token_is_refused(csrf_client, staff_user, client_user):
    csrf_client.force_login(staff_user)
    response = csrf_client.post(
        changelist("accounts.user"),
        {"action": "suspend_users", "_selected_action": [client_user.pk], "confirm": "yes", "reason": "x"},
    )
    assert response.status_code == 403
    client_user.refresh_from_db()
    assert client_user.account_status == "active"


def test_action_with_csrf_token_from_the_form_page_works(csrf_client, staff_user, client_user):
    csrf_client.force_login(staff_user)
    page = csrf_client.get(changelist("accounts.user"))
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(
        changelist("accounts.user"),
        {
            "action": "suspend_users",
            "_selected_action": [client_user.pk],
            "confirm": "yes",
            "reason": "Abuse",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.account_status == "suspended"


# --- The audit log is read-only ------------------------------------------------------------------


def test_audit_log_cannot_be_added_changed_or_deleted(staff_user):
    root = StaffFactory(is_superuser=True)
    browser = Client()
    browser.force_login(root)
    row = AuditLog.objects.create(action="x.test", target_type="accounts.user", target_id=str(staff_user.pk))
    assert browser.get(reverse("admin:audit_auditlog_add")).status_code == 403
    assert browser.post(reverse("admin:audit_auditlog_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    page = browser.get(reverse("admin:audit_auditlog_change", args=[row.pk]))
    assert page.status_code == 200 and b'name="action"' not in page.content  # shown, not editable
    browser.post(reverse("admin:audit_auditlog_change", args=[row.pk]), {"action": "tampered"})
    row.refresh_from_db()
    assert row.action == "x.test"
    listing = browser.get(reverse("admin:audit_auditlog_changelist"))
    assert b"action-select" not in listing.content  # no bulk actions, not even delete


def test_the_order_page_shows_status_names_and_named_deliveries(staff_client, paid_order, coach_user):
    from orders import services as order_services

    order_services.deliver(paid_order.pk, actor=coach_user, note="Here it is")

    page = staff_client.get(f"/admin/orders/order/{paid_order.pk}/change/").content.decode()

    assert "In progress" in page and "Delivered" in page
    assert ">in_progress<" not in page
    assert "Delivery object" not in page
    assert str(paid_order.deliveries.get()) == f"Delivery 1 of order #{paid_order.pk}"


def test_console_pages_carry_the_site_icon(staff_client):
    page = staff_client.get("/admin/").content.decode()

    assert 'rel="icon" href="/static/img/favicon.svg"' in page
    assert "operator console" in page  # Django's own base_site still renders around it


def test_a_dispute_is_resolved_from_the_order_page(staff_client, disputed_order, django_capture_on_commit_callbacks):
    order = disputed_order
    change = staff_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    url = f"/admin/orders/order/{order.pk}/resolve-dispute/"
    assert f'href="{url}">Resolve this dispute…</a>' in change

    form = staff_client.get(url)
    assert form.status_code == 200 and "Reason given" in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(
            url,
            {
                "action": "resolve_dispute",
                "_selected_action": [order.pk],
                "confirm": "yes",
                "outcome": "release",
                "note": "The CV matches the brief.",
            },
            REMOTE_ADDR=IP,
        )

    assert done.status_code == 302 and done["Location"] == f"/admin/orders/order/{order.pk}/change/"
    order.refresh_from_db()
    assert order.status == "completed"
    page = staff_client.get(done["Location"]).content.decode()
    assert "Resolve this dispute" not in page


def test_the_order_page_resolve_form_refuses_bad_input_and_non_staff(staff_client, client, client_user, disputed_order):
    url = f"/admin/orders/order/{disputed_order.pk}/resolve-dispute/"

    bad = staff_client.post(url, {"confirm": "yes", "outcome": "partial", "amount": "-5", "note": "x"})
    client.force_login(client_user)
    stranger = client.get(url)

    assert bad.status_code == 400
    disputed_order.refresh_from_db()
    assert disputed_order.status == "disputed"
    assert stranger.status_code == 302 and "/admin/login/" in stranger["Location"]
