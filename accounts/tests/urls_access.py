"""The project's URLs plus a few views guarded by the access helpers, for test_access.py."""

from django.http import HttpResponse
from django.urls import path
from django.views import View

from accounts.access import RoleRequiredMixin, VerifiedEmailRequiredMixin, role_required, verified_email_required
from elite.urls import handler403, handler404, handler500  # noqa: F401
from elite.urls import urlpatterns as project_urlpatterns


@role_required("client")
def client_only(request):
    return HttpResponse("client page")


@role_required("coach", "admin")
def coach_or_staff(request):
    return HttpResponse("coach or staff page")


class StaffOnly(RoleRequiredMixin, View):
    allowed_roles = ("admin",)

    def get(self, request):
        return HttpResponse("staff page")


@verified_email_required
def place_request(request):
    return HttpResponse(f"placed by {request.user.email}")


class Pay(VerifiedEmailRequiredMixin, View):
    def post(self, request):
        return HttpResponse("paid")


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("t/boom/", boom),
    path("t/client-only/", client_only),
    path("t/coach-or-staff/", coach_or_staff),
    path("t/staff-only/", StaffOnly.as_view()),
    path("t/place-request/", place_request),
    path("t/pay/", Pay.as_view()),
    *project_urlpatterns,
]
