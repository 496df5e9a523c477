from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Installed only by bench.settings: the baseline view and its table."""

    name = "bench"
    verbose_name = "Benchmark baseline"
