from importlib import import_module

import factory

from accounts.tests.factories import CoachUserFactory
from coaches.models import CoachProfile, CoachService, Language, ServiceType


def seed_languages() -> None:
    """The languages migration 0003 seeds: a transaction=True test flushes every table between tests,
    those rows included, so a test that needs them after such a test puts them back."""
    for code, name in import_module("coaches.migrations.0003_seed_languages").LANGUAGES:
        Language.objects.get_or_create(code=code, defaults={"name": name})


class CoachProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoachProfile
        skip_postgeneration_save = True

    user = factory.SubFactory(CoachUserFactory)
    headline = factory.Faker("sentence", nb_words=6)
    bio = factory.Faker("paragraph")
    years_experience = 5

    @factory.post_generation
    def services(obj, create, extracted, **kwargs):
        """Offers a CV service by default; pass services=[] for none or a list of service types."""
        if not create:
            return
        for service_type in [ServiceType.CV] if extracted is None else extracted:
            CoachServiceFactory(coach=obj, service_type=service_type)


class CoachServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CoachService
        django_get_or_create = ("coach", "service_type")

    coach = factory.SubFactory(CoachProfileFactory, services=[])
    service_type = ServiceType.CV
    price_minor = 12000
    currency = "GBP"
    delivery_days = 5
    revisions_included = 2
