import datetime

import factory
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from coaches.models import ServiceType
from requests_app.models import ServiceRequest


class ServiceRequestFactory(factory.django.DjangoModelFactory):
    """A pending request addressed to `coach` (a CoachProfile); coach=None makes an open request."""

    class Meta:
        model = ServiceRequest

    client = factory.SubFactory(ClientFactory)
    coach = None
    service_type = ServiceType.CV
    title = factory.Faker("sentence", nb_words=5)
    requirements = factory.Faker("paragraph")
    deadline = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=14))
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=72))
    posted_open = factory.LazyAttribute(lambda o: o.coach is None)

    @factory.lazy_attribute
    def price_minor(self):
        if self.coach is None:
            return None
        return self.coach.services.get(service_type=self.service_type).price_minor

    @factory.lazy_attribute
    def currency(self):
        if self.coach is None:
            return ""
        return self.coach.services.get(service_type=self.service_type).currency
