from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditLog
from coaches import services
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from core.exceptions import NotPermitted
from requests_app.models import ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def test_staff_verifies_a_coach_and_it_is_audited(staff_user):
    profile = CoachProfileFactory()

    services.set_verified(profile, actor=staff_user, verified=True, ip_address="10.0.0.7")

    profile.refresh_from_db()
    assert profile.is_verified is True
    log = AuditLog.objects.get(action="coach.verify")
    assert log.actor == staff_user
    assert log.target_id == str(profile.pk)
    assert log.ip_address == "10.0.0.7"
    assert log.details == {"from": False, "to": True}


def test_staff_removes_verification(staff_user):
    profile = CoachProfileFactory(is_verified=True)

    services.set_verified(profile, actor=staff_user, verified=False)

    profile.refresh_from_db()
    assert profile.is_verified is False
    assert AuditLog.objects.filter(action="coach.unverify", target_id=str(profile.pk)).exists()


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
def test_non_staff_cannot_verify(request, who):
    actor = request.getfixturevalue(who)
    profile = CoachProfileFactory()

    with pytest.raises(NotPermitted):
        services.set_verified(profile, actor=actor, verified=True)

    profile.refresh_from_db()
    assert profile.is_verified is False
    assert not AuditLog.objects.exists()


def _decided(profile, *, hours, status="accepted", days_ago=1):
    created = timezone.now() - timedelta(days=days_ago, hours=hours)
    service_request = ServiceRequestFactory(coach=profile)
    ServiceRequest.objects.filter(pk=service_request.pk).update(
        created_at=created, decided_at=created + timedelta(hours=hours), status=status
    )


def test_response_time_averages_accepts_and_rejects():
    profile = CoachProfileFactory()
    _decided(profile, hours=2)
    _decided(profile, hours=6, status="rejected")
    ServiceRequestFactory(coach=profile)  # still pending: not a decision

    assert services.recompute_response_time(profile) == 4.0

    profile.refresh_from_db()
    assert profile.response_time_hours == 4.0


def test_response_time_ignores_other_coaches_and_old_or_expired_requests():
    profile = CoachProfileFactory()
    _decided(profile, hours=3)
    _decided(profile, hours=100, days_ago=services.RESPONSE_TIME_WINDOW_DAYS + 5)
    _decided(profile, hours=50, status="expired")
    _decided(CoachProfileFactory(), hours=40)

    assert services.recompute_response_time(profile) == 3.0


def test_response_time_is_cleared_without_decisions():
    profile = CoachProfileFactory(response_time_hours=12)

    assert services.recompute_response_time(profile) is None

    profile.refresh_from_db()
    assert profile.response_time_hours is None


def test_coach_profile_is_created_lazily_once(coach_user):
    from accounts.tests.factories import CoachUserFactory

    fresh = CoachUserFactory()
    first = services.get_or_create_profile(fresh)
    second = services.get_or_create_profile(fresh)
    assert first.pk == second.pk


def test_clients_get_no_coach_profile(client_user):
    with pytest.raises(NotPermitted):
        services.get_or_create_profile(client_user)


def test_only_the_owner_updates_a_profile(other_coach):
    from core.exceptions import NotPermitted as Refused

    profile = CoachProfileFactory(headline="Mine")

    with pytest.raises(Refused):
        services.update_profile(profile, actor=other_coach, changes={"headline": "Hijacked"})
    with pytest.raises(Refused):
        services.set_services(profile, actor=other_coach, offers=[])

    profile.refresh_from_db()
    assert profile.headline == "Mine"
    assert profile.services.count() == 1


def test_set_services_refuses_duplicates_and_unknown_currency():
    from core.exceptions import DomainError

    profile = CoachProfileFactory()
    offer = services.ServiceOffer("cv", 5000, "GBP", 3, 1)

    with pytest.raises(DomainError):
        services.set_services(profile, actor=profile.user, offers=[offer, offer])
    with pytest.raises(DomainError):
        services.set_services(profile, actor=profile.user, offers=[services.ServiceOffer("cv", 5000, "JPY", 3, 1)])

    assert profile.services.get().price_minor == 12000


def test_price_from_follows_the_active_services():
    from coaches.models import CoachService
    from coaches.tests.factories import CoachServiceFactory

    profile = CoachProfileFactory(services=[])
    assert profile.price_from_minor is None

    CoachServiceFactory(coach=profile, service_type="cv", price_minor=9000)
    bundle = CoachServiceFactory(coach=profile, service_type="bundle", price_minor=4000)
    profile.refresh_from_db()
    assert profile.price_from_minor == 4000

    bundle.is_active = False
    bundle.save()
    profile.refresh_from_db()
    assert profile.price_from_minor == 9000

    services.set_services(profile, actor=profile.user, offers=[])
    profile.refresh_from_db()
    assert profile.price_from_minor is None
    assert not CoachService.objects.filter(coach=profile).exists()
    assert not profile.__class__.objects.listed().filter(pk=profile.pk).exists()


def _listed(profile) -> bool:
    profile.refresh_from_db(fields=["in_directory"])
    return profile.in_directory


def test_suspension_takes_a_coach_out_of_the_directory_and_reactivation_back(staff_user):
    from accounts.services import reactivate_user, suspend_user

    profile = CoachProfileFactory()
    assert _listed(profile)

    suspend_user(profile.user, actor=staff_user, reason="Chargebacks")
    assert not _listed(profile)

    reactivate_user(profile.user, actor=staff_user)
    assert _listed(profile)


def test_offering_services_lists_and_pausing_the_last_one_unlists():
    profile = CoachProfileFactory(services=[])
    assert not _listed(profile)

    service = CoachServiceFactory(coach=profile)
    assert _listed(profile)

    service.is_active = False
    service.save()
    assert not _listed(profile)


def test_a_suspended_coach_who_adds_a_service_stays_unlisted():
    profile = CoachProfileFactory(services=[], user__account_status="suspended")

    CoachServiceFactory(coach=profile)

    assert not _listed(profile)


def test_a_login_does_not_touch_the_coach_profile(django_assert_num_queries):
    profile = CoachProfileFactory()

    with django_assert_num_queries(1):  # the user's own UPDATE of last_login
        profile.user.save(update_fields=["last_login"])
    assert _listed(profile)


def test_a_full_save_of_an_unchanged_account_rewrites_no_listing(django_assert_num_queries):
    profile = CoachProfileFactory()

    # the user's UPDATE, the two guarded listing UPDATEs (match no row), the search-text refresh (2)
    with django_assert_num_queries(5):
        profile.user.save()
    assert _listed(profile)


def test_refresh_all_listings_repairs_bulk_account_updates():
    listed, suspended = CoachProfileFactory(), CoachProfileFactory()
    type(suspended.user).objects.filter(pk=suspended.user_id).update(account_status="suspended")  # no signal

    assert services.refresh_all_listings() == 1

    assert _listed(listed)
    assert not _listed(suspended)
