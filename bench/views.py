"""The baseline: filter, sort and render 20 rows of a 10,000-row indexed table, nothing else."""

from django.http import HttpResponseBadRequest
from django.shortcuts import render

from .models import BaselineRow


def baseline(request):
    try:
        category = int(request.GET.get("category", "1"))
    except ValueError:
        return HttpResponseBadRequest("category must be a number")
    rows = BaselineRow.objects.filter(category=category).order_by("-score", "id")[:20]
    return render(request, "bench/baseline.html", {"rows": rows, "category": category})
