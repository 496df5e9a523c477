"""The avatar pointer moves from accounts.User.avatar to files.Avatar (keyed by the user), so accounts
no longer points up at files. Existing avatars are carried over; accounts 0004 then drops the column."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def carry_avatars_over(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Avatar = apps.get_model("files", "Avatar")
    pairs = User.objects.filter(avatar_id__isnull=False).values_list("pk", "avatar_id")
    Avatar.objects.bulk_create([Avatar(user_id=user_id, asset_id=asset_id) for user_id, asset_id in pairs])


def carry_avatars_back(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Avatar = apps.get_model("files", "Avatar")
    for user_id, asset_id in Avatar.objects.values_list("user_id", "asset_id"):
        User.objects.filter(pk=user_id).update(avatar_id=asset_id)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_site_name"),
        ("files", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Avatar",
            fields=[
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="avatar",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "asset",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="files.fileasset"
                    ),
                ),
            ],
            options={"abstract": False},
        ),
        migrations.RunPython(carry_avatars_over, carry_avatars_back),
    ]
