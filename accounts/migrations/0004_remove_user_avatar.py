"""The avatar pointer now lives in files.Avatar (files 0002 copied it there)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_site_name"),
        ("files", "0002_avatar"),
    ]

    operations = [migrations.RemoveField(model_name="user", name="avatar")]
