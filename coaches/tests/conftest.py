import pytest

from orders import services as orders
from orders.tests.factories import make_order


@pytest.fixture
def review_for():
    """A review made the real way: order accepted, paid, delivered, accepted, then reviewed."""

    def make(coach, *, rating, comment="", reply="", client=None):
        from accounts.tests.factories import ClientFactory

        client = client or ClientFactory()
        order = make_order(client=client, coach=coach)
        orders.mark_paid(order.pk, actor=None)
        orders.deliver(order.pk, actor=coach, note="Here it is.")
        orders.accept_delivery(order.pk, actor=client)
        review = orders.submit_review(order.pk, actor=client, rating=rating, comment=comment)
        if reply:
            review = orders.reply_to_review(review.pk, actor=coach, reply=reply)
        return review

    return make


@pytest.fixture(autouse=True)
def _no_directory_cache(settings):
    """Most tests look at one render; test_directory_cache turns the cache back on."""
    settings.COACH_DIRECTORY_CACHE_SECONDS = 0
