"""Benchmark-only settings: the production settings plus the baseline view and its table."""

from elite.settings import *  # noqa: F403
from elite.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.apps.BenchConfig"]
ROOT_URLCONF = "bench.urls"
