"""The site's URLs plus the baselines, mounted only by bench.settings."""

from django.urls import path

from elite.urls import handler403, handler404, handler500  # noqa: F401
from elite.urls import urlpatterns as site_urlpatterns

from .views import baseline, noop

urlpatterns = [
    path("bench/baseline/", baseline, name="bench-baseline"),
    path("bench/noop/", noop, name="bench-noop"),
    *site_urlpatterns,
]
