import factory
from allauth.account.models import EmailAddress

from accounts.models import Role, User

DEFAULT_PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CLIENT
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        """Verified email by default; pass verified=False for a fresh signup."""
        obj.save()
        if create and extracted is not False:
            EmailAddress.objects.update_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class ClientFactory(UserFactory):
    role = Role.CLIENT


class CoachUserFactory(UserFactory):
    role = Role.COACH


class StaffFactory(UserFactory):
    role = Role.ADMIN
