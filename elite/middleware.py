"""Request id for log correlation, and a hard cap on request body size."""

import re
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core.api import problem_response
from core.http import bind_request_id, same_site_referer, unbind_request_id

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Accept the load balancer's X-Request-ID (if sane) or make one, and echo it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = bind_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            unbind_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class RequestBodyLimitMiddleware:
    """Answer 413 for a body larger than MAX_REQUEST_BODY_BYTES before anything reads it.

    Django's own limits raise RequestDataTooBig (a 400) only once a view touches the body. It sits after the
    session, auth and messages middleware, so a person sees the page with their own navbar and a way back to
    the form; none of those read the body, and CSRF reads it only in process_view, after every __call__.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            limit_mb = settings.MAX_REQUEST_BODY_BYTES // (1024 * 1024)
            message = f"The request is too large. The limit is {limit_mb} MB."
            if request.path.startswith("/api/"):
                return problem_response(413, "too_large", message)
            if request.headers.get("Accept", "").startswith("application/json"):
                return JsonResponse({"error": message}, status=413)
            context = {
                "message": message,
                "per_file_mb": settings.FILE_UPLOAD_MAX_BYTES // (1024 * 1024),
                "back_url": same_site_referer(request),
            }
            return HttpResponse(render_to_string("413.html", context, request=request), status=413)
        return self.get_response(request)


class DomainErrorMiddleware:
    """Turn a DomainError a service raised into its HTTP status with the message shown.

    Views stay thin: they call a service and let a refused rule become 403/409/429 here,
    rendered as a page (or JSON for callers that ask for it). Nothing was changed: services
    raise before or inside their transaction, which rolls back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.shortcuts import render

        from core.exceptions import DomainError

        if not isinstance(exception, DomainError):
            return None
        if request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse({"error": exception.message}, status=exception.status)
        return render(
            request,
            "error.html",
            {"message": exception.message, "status": exception.status, "back_url": same_site_referer(request)},
            status=exception.status,
        )
