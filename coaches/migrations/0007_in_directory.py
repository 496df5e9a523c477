from django.db import migrations, models


def fill_in_directory(apps, schema_editor):
    CoachProfile = apps.get_model("coaches", "CoachProfile")
    listed = CoachProfile.objects.filter(
        price_from_minor__isnull=False, user__is_active=True, user__account_status="active"
    ).values("pk")
    CoachProfile.objects.filter(pk__in=listed).update(in_directory=True)


class Migration(migrations.Migration):
    """Store the listing rule (active account + an offered service) on the profile, so the
    directory's count and page queries need no join to the users table."""

    dependencies = [("coaches", "0006_search_trigram_index")]

    operations = [
        migrations.AddField(
            model_name="coachprofile",
            name="in_directory",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Listed in the public directory: an active account offering at least one service. Derived.",
            ),
        ),
        migrations.RunPython(fill_in_directory, migrations.RunPython.noop),
    ]
