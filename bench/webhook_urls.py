"""URLs for bench/webhooks.py: the site plus an unsigned no-op POST view as the baseline."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from elite.urls import urlpatterns as site_urlpatterns


@csrf_exempt
@require_POST
def noop(request):
    """Reads the body and answers JSON: the cost of the request path with no webhook work."""
    return JsonResponse({"received": len(request.body)})


urlpatterns = [path("bench/noop/", noop), *site_urlpatterns]
