"""Reviews: once per completed order by its client, one reply by the coach, staff may hide."""

import pytest

from audit.models import AuditLog
from core.exceptions import DomainError, InvalidState, NotPermitted
from notifications.models import Notification
from orders import services
from orders.models import Review
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


def _complete(order):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    return services.accept_delivery(order.pk, actor=order.client)


@pytest.fixture
def completed(order):
    return _complete(order)


def test_client_reviews_once_and_the_rating_updates(completed, client_user, coach_user):
    profile = coach_user.coach_profile
    services.submit_review(completed.pk, actor=client_user, rating=4, comment="Clear and fast")
    profile.refresh_from_db()
    assert (profile.rating_avg, profile.ratings_count) == (4, 1)
    second = _complete(make_order(client=client_user, coach=coach_user))
    services.submit_review(second.pk, actor=client_user, rating=5)
    profile.refresh_from_db()
    assert (str(profile.rating_avg), profile.ratings_count) == ("4.50", 2)
    assert Notification.objects.filter(user=coach_user, kind="review_received").count() == 2


def test_second_review_is_refused(completed, client_user):
    services.submit_review(completed.pk, actor=client_user, rating=4)
    with pytest.raises(InvalidState, match="already reviewed"):
        services.submit_review(completed.pk, actor=client_user, rating=1)
    assert Review.objects.get().rating == 4


def test_review_before_completion_is_refused(paid_order, client_user):
    with pytest.raises(InvalidState, match="completed"):
        services.submit_review(paid_order.pk, actor=client_user, rating=5)
    assert not Review.objects.exists()


def test_only_the_client_may_review(completed, coach_user, other_client):
    for actor in (coach_user, other_client):
        with pytest.raises(NotPermitted):
            services.submit_review(completed.pk, actor=actor, rating=5)
    assert not Review.objects.exists()


@pytest.mark.parametrize("rating", [0, 6, "5"])
def test_rating_out_of_range_is_refused(completed, client_user, rating):
    with pytest.raises(DomainError):
        services.submit_review(completed.pk, actor=client_user, rating=rating)


def test_coach_replies_once(completed, client_user, coach_user, other_coach):
    review = services.submit_review(completed.pk, actor=client_user, rating=5)
    with pytest.raises(NotPermitted):
        services.reply_to_review(review.pk, actor=other_coach, reply="Not mine")
    services.reply_to_review(review.pk, actor=coach_user, reply="Thank you!")
    with pytest.raises(InvalidState):
        services.reply_to_review(review.pk, actor=coach_user, reply="Again")
    review.refresh_from_db()
    assert review.reply == "Thank you!"


def test_hidden_reviews_leave_the_rating_and_it_is_audited(completed, client_user, coach_user, staff_user):
    profile = coach_user.coach_profile
    review = services.submit_review(completed.pk, actor=client_user, rating=1, comment="abusive text")
    with pytest.raises(NotPermitted):
        services.hide_review(review.pk, actor=coach_user, hidden=True)
    services.hide_review(review.pk, actor=staff_user, hidden=True, ip_address="10.0.0.1")
    profile.refresh_from_db()
    assert (profile.rating_avg, profile.ratings_count) == (0, 0)
    assert AuditLog.objects.filter(action="review.hide", actor=staff_user, ip_address="10.0.0.1").exists()
    services.hide_review(review.pk, actor=staff_user, hidden=False)
    profile.refresh_from_db()
    assert (profile.rating_avg, profile.ratings_count) == (1, 1)


# --- through the order page --------------------------------------------------------------


def test_client_reviews_from_the_order_page(csrf_client, completed, client_user, coach_user):
    csrf_client.force_login(client_user)
    page = csrf_client.get(f"/orders/{completed.pk}/")
    assert "How did it go?" in page.content.decode()
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(
        f"/orders/{completed.pk}/review/", {"csrfmiddlewaretoken": token, "rating": "5", "comment": "Superb"}
    )
    assert response.status_code == 302
    html = csrf_client.get(f"/orders/{completed.pk}/").content.decode()
    assert "Superb" in html and "How did it go?" not in html
    assert (
        csrf_client.post(f"/orders/{completed.pk}/review/", {"csrfmiddlewaretoken": token, "rating": "1"}).status_code
        == 409
    )
    coach_user.coach_profile.refresh_from_db()
    assert coach_user.coach_profile.ratings_count == 1


def test_review_with_bad_rating_is_400(client, completed, client_user):
    client.force_login(client_user)
    assert client.post(f"/orders/{completed.pk}/review/", {"rating": "9"}).status_code == 400
    assert not Review.objects.exists()


def test_review_on_someone_elses_order_is_404(client, completed, other_client):
    client.force_login(other_client)
    assert client.post(f"/orders/{completed.pk}/review/", {"rating": "5"}).status_code == 404


def test_review_on_an_unfinished_order_is_409(client, paid_order, client_user):
    client.force_login(client_user)
    response = client.post(f"/orders/{paid_order.pk}/review/", {"rating": "5"})
    assert response.status_code == 409
    assert "once it is completed" in response.content.decode()


def test_coach_replies_from_the_order_page(client, completed, client_user, coach_user):
    services.submit_review(completed.pk, actor=client_user, rating=5)
    client.force_login(coach_user)
    assert client.post(f"/orders/{completed.pk}/review/reply/", {"reply": "Glad it helped"}).status_code == 302
    assert "Glad it helped" in client.get(f"/orders/{completed.pk}/").content.decode()
    client.force_login(client_user)
    assert client.post(f"/orders/{completed.pk}/review/reply/", {"reply": "Me too"}).status_code == 403


def test_a_new_rating_shows_in_the_cached_directory_at_once(
    client, completed, client_user, settings, django_capture_on_commit_callbacks
):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60
    url = "/coaches/?sort=rating"
    assert "1 review" not in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        services.submit_review(completed.pk, actor=client_user, rating=5, comment="Superb")

    assert "1 review" in client.get(url).content.decode()
