"""URLs for bench/webhooks.py: the site plus an unsigned no-op POST view as the baseline."""

from django.urls import path

from elite.urls import urlpatterns as site_urlpatterns

from .views import noop

urlpatterns = [path("bench/noop/", noop), *site_urlpatterns]
