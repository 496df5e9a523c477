"""The baselines: the cheapest real page and the cheapest real POST, measured beside ours."""

from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import BaselineRow


def baseline(request):
    """Filter, sort and render 20 rows of a 10,000-row indexed table, nothing else."""
    try:
        category = int(request.GET.get("category", "1"))
    except ValueError:
        return HttpResponseBadRequest("category must be a number")
    rows = BaselineRow.objects.filter(category=category).order_by("-score", "id")[:20]
    return render(request, "bench/baseline.html", {"rows": rows, "category": category})


@csrf_exempt
@require_POST
def noop(request):
    """Reads the body and answers JSON: the cost of the request path with no webhook work."""
    return JsonResponse({"received": len(request.body)})
