"""The demo data shows documents at work: an order with three versions, comments and a job report."""

import pytest

from documents import demo
from documents.models import Comment, Extraction, JobDescription
from orders import services as order_services

pytestmark = pytest.mark.django_db(transaction=True)  # as in seed_demo: scans and extraction run on commit


def test_the_demo_order_has_three_versions_comments_and_a_report(client, client_user, coach_user):
    coach_user.coach_profile.services.filter(service_type="cv").update(revisions_included=2)
    order = demo.seed_order(client_user, coach_user, pay=lambda o: order_services.mark_paid(o.pk, actor=None))
    assert order is not None
    assert order.deliveries.count() == 3 and order.status == "delivered" and order.revisions_used == 2
    assert Extraction.objects.filter(asset__deliveries__order=order, status="ok").count() == 3
    assert Comment.objects.filter(order=order, parent__isnull=True, sent_in_revision_at__isnull=False).count() == 3
    assert Comment.objects.filter(order=order, parent__isnull=False).count() == 3
    assert JobDescription.objects.filter(order=order).count() == 1

    client.force_login(order.client)
    html = client.get(f"/documents/orders/{order.pk}/report/").content.decode()
    scores = [int(part.split('"')[0]) for part in html.split('data-score="')[1:]]
    assert len(scores) == 4 and scores == sorted(scores) and scores[-1] > scores[0]
    assert demo.seed_order(client_user, coach_user, pay=lambda o: None) is None
