from orders import services
from requests_app.tests.factories import ServiceRequestFactory


def make_order(*, client, coach, **request_fields):
    """A pending order made the way production makes one: a request, then the coach accepts it."""
    service_request = ServiceRequestFactory(client=client, coach=coach.coach_profile, **request_fields)
    return services.accept_request(service_request.pk, actor=coach)
