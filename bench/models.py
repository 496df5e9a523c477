"""The baseline's table: 10,000 indexed rows, created by bench/marketplace.py (not a migration)."""

from django.db import models


class BaselineRow(models.Model):
    title = models.CharField(max_length=120)
    category = models.PositiveSmallIntegerField()
    score = models.IntegerField()

    class Meta:
        managed = False
        db_table = "bench_baseline_row"
        app_label = "bench"

    def __str__(self) -> str:
        return self.title
