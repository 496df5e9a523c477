"""The languages a coach can write in; the directory filters on them."""

from django.db import migrations

LANGUAGES = [
    ("ar", "Arabic"),
    ("bn", "Bengali"),
    ("zh", "Chinese (Mandarin)"),
    ("cs", "Czech"),
    ("da", "Danish"),
    ("nl", "Dutch"),
    ("en", "English"),
    ("fi", "Finnish"),
    ("fr", "French"),
    ("de", "German"),
    ("el", "Greek"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hu", "Hungarian"),
    ("id", "Indonesian"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("no", "Norwegian"),
    ("pl", "Polish"),
    ("pt", "Portuguese"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("es", "Spanish"),
    ("sv", "Swedish"),
    ("tr", "Turkish"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("vi", "Vietnamese"),
    ("cy", "Welsh"),
]


def seed(apps, schema_editor):
    Language = apps.get_model("coaches", "Language")
    for code, name in LANGUAGES:
        Language.objects.update_or_create(code=code, defaults={"name": name})


def unseed(apps, schema_editor):
    Language = apps.get_model("coaches", "Language")
    Language.objects.filter(code__in=[code for code, _ in LANGUAGES], coaches__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("coaches", "0002_directory_indexes")]

    operations = [migrations.RunPython(seed, unseed)]
