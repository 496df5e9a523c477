"""Model building blocks shared by every app."""

from django.core.validators import MaxValueValidator
from django.db import models

# PostgreSQL's column ranges, declared on the fields that reach forms and the API: SQLite reports a 64-bit
# range for every integer column, so without them validation and the OpenAPI contract would differ by backend.
SMALL_INT_MAX = MaxValueValidator(32_767)
INT_MAX = MaxValueValidator(2_147_483_647)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
