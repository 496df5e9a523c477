"""The site's URLs plus the baseline view, mounted only by bench.settings."""

from django.urls import path

from elite.urls import handler403, handler404, handler500  # noqa: F401
from elite.urls import urlpatterns as site_urlpatterns

from .views import baseline

urlpatterns = [path("bench/baseline/", baseline, name="bench-baseline"), *site_urlpatterns]
