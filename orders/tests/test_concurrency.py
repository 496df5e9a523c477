"""Two coaches accept the same open request at the same moment: exactly one order."""

import threading

import pytest
from django.db import connection

from conftest import require_service
from core.exceptions import InvalidState
from orders import services
from orders.models import Order
from requests_app.models import RequestStatus


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_coaches_racing_for_one_open_request_make_one_order(client_user, coach_user, other_coach):
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "row locks need a real server; SQLite serialises whole-database writes, so there is no race to test",
    )
    from requests_app.tests.factories import ServiceRequestFactory

    service_request = ServiceRequestFactory(client=client_user, coach=None)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def accept(coach):
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            outcomes[coach.email] = services.accept_request(service_request.pk, actor=coach)
        except InvalidState as exc:
            outcomes[coach.email] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(c,)) for c in (coach_user, other_coach)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    orders = [o for o in outcomes.values() if isinstance(o, Order)]
    refused = [o for o in outcomes.values() if isinstance(o, InvalidState)]
    assert len(orders) == 1 and len(refused) == 1, outcomes
    assert "already been taken" in refused[0].message
    assert Order.objects.filter(request=service_request).count() == 1
    service_request.refresh_from_db()
    assert service_request.status == RequestStatus.ACCEPTED
    assert service_request.coach.user_id == orders[0].coach_id
