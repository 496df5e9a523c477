"""The REST API's ground rules, shared by every app's `api` module: one error shape, strict input, cursors.

Every 4xx/5xx answers `{"type", "code", "detail", "fields", "status"}`: `type` is `validation_error`,
`client_error` or `server_error`, `code` a stable machine word, `detail` a sentence for people and `fields`
the per-field messages of a 400 (empty otherwise). A DomainError a service raises keeps its status
(403, 409, 429…), so a rule refused on a page is refused with the same words through the API.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import exceptions, pagination, parsers, permissions, serializers, status
from rest_framework.response import Response

from core.exceptions import DomainError, RateLimited

logger = logging.getLogger(__name__)

# Seconds a client should wait after a 429 from a service that does not say (its windows are a minute+).
DEFAULT_RETRY_AFTER = 60


def problem_body(status_code: int, code: str, detail: str, fields: dict | None = None) -> dict[str, Any]:
    if status_code >= 500:
        kind = "server_error"
    elif fields:
        kind = "validation_error"
    else:
        kind = "client_error"
    return {"type": kind, "code": code, "detail": detail, "fields": fields or {}, "status": status_code}


def problem_response(status_code: int, code: str, detail: str) -> JsonResponse:
    """The same shape for answers given before DRF runs (middleware: 413)."""
    return JsonResponse(problem_body(status_code, code, detail), status=status_code)


def _first_message(data: Any) -> str:
    if isinstance(data, list) and data:
        return _first_message(data[0])
    if isinstance(data, dict) and data:
        return _first_message(next(iter(data.values())))
    return str(data)


def _validation_problem(exc: exceptions.ValidationError) -> dict[str, Any]:
    data = exc.detail
    if isinstance(data, dict):
        fields = {name: [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])] for name, msgs in data.items()}
        general = fields.pop("non_field_errors", None)
        detail = general[0] if general else "Some fields are invalid: " + ", ".join(sorted(fields)) + "."
        if general:
            fields.setdefault("non_field_errors", general)
        return problem_body(400, "invalid", detail, fields)
    return problem_body(400, "invalid", _first_message(data))


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every error to the one shape; unknown errors become a logged 500."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        body = problem_body(exc.status, _domain_code(exc), exc.message)
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(getattr(exc, "retry_after", None) or DEFAULT_RETRY_AFTER)
        return Response(body, status=exc.status, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        return Response(_validation_problem(exc), status=400)
    # Imported here: rest_framework.views reads DRF's settings, which name classes of this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in API view", exc_info=exc)
        return Response(problem_body(500, "server_error", "Something went wrong on our side."), status=500)
    assert isinstance(exc, exceptions.APIException)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else "error"
    response.data = problem_body(response.status_code, code, _first_message(exc.detail))
    return response


def _domain_code(exc: DomainError) -> str:
    return {400: "refused", 403: "permission_denied", 404: "not_found", 409: "invalid_state", 429: "throttled"}.get(
        exc.status, "refused"
    )


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


class LimitedJSONParser(parsers.JSONParser):
    """JSON bodies above API_MAX_JSON_BYTES answer 413 before they are read.

    DRF reads the raw stream, which Django's DATA_UPLOAD_MAX_MEMORY_SIZE check never sees.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if length > settings.API_MAX_JSON_BYTES:
            raise RequestTooLarge(f"A JSON body may be at most {settings.API_MAX_JSON_BYTES // 1024} KB.")
        return super().parse(stream, media_type, parser_context)


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know (400 naming them) instead of ignoring them.

    A typo ("pasword") or a field the caller may not set ("role") silently dropped would look like success.
    """

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - {name for name, field in self.fields.items() if not field.read_only})
            if unknown:
                raise serializers.ValidationError({name: ["This field is not accepted here."] for name in unknown})
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass


def examples(named: dict[str, Any]) -> Callable[[type[serializers.Serializer]], type[serializers.Serializer]]:
    """OpenAPI examples of a serializer's body, shown wherever the serializer is (Swagger UI, ReDoc) and
    sent by Schemathesis' examples phase: request examples for an input (StrictSerializer), response
    examples for what an operation answers. A list answer shows them inside its cursor page."""

    def decorate(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
        is_input = issubclass(serializer_class, StrictSerializer)
        items = [
            OpenApiExample(name, value=value, request_only=is_input, response_only=not is_input)
            for name, value in named.items()
        ]
        return extend_schema_serializer(examples=items)(serializer_class)

    return decorate


class Cursor(pagination.CursorPagination):
    """Cursor pagination on every list: stable under inserts, capped page size, newest first by id."""

    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    ordering = "-id"

    def get_ordering(self, request, queryset, view):
        """A view may choose its order per request (the directory's sorts) through `cursor_ordering`,
        set while it builds the queryset; the last field must be unique so the order is stable."""
        chosen = getattr(view, "cursor_ordering", None)
        return tuple(chosen) if chosen else super().get_ordering(request, queryset, view)


# One example of the error shape per status every operation documents (core.api_schema.COMMON_ERRORS),
# built by problem_body itself so the document cannot show a shape the handler does not answer.
PROBLEM_EXAMPLES = {
    "400": ("invalid", "Some fields are invalid: title.", {"title": ["This field is required."]}),
    "401": ("not_authenticated", "Authentication credentials were not provided.", None),
    "403": ("permission_denied", "This is not available to your account type.", None),
    "404": ("not_found", "Not found.", None),
    "409": ("invalid_state", "This order is cancelled; that action is not possible any more.", None),
    "413": ("too_large", "A JSON body may be at most 256 KB.", None),
    "415": ("unsupported_media_type", 'Unsupported media type "text/plain" in request.', None),
    "429": ("throttled", "Request was throttled. Expected available in 60 seconds.", None),
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            f"Error {code}",
            value=problem_body(int(code), error, detail, fields),
            response_only=True,
            status_codes=[code],
        )
        for code, (error, detail, fields) in PROBLEM_EXAMPLES.items()
    ]
)
class ProblemSerializer(serializers.Serializer):
    """The one error shape (documentation only: exception_handler builds it)."""

    type = serializers.ChoiceField(choices=["validation_error", "client_error", "server_error"])
    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    status = serializers.IntegerField()


def validated(serializer_class: type[serializers.Serializer], request, **kwargs) -> dict:
    """Run an input serializer over the request body; a 400 naming each bad field otherwise."""
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def takes(serializer_class: type[serializers.Serializer], **schema: Any) -> Callable[[Callable], Callable]:
    """Declare an operation's body once: the document shows `serializer_class` as its request and the
    handler receives the validated data after `request` (a 400 naming each bad field before it runs).

    Naming the serializer twice, in `extend_schema(request=…)` and in `validated(…)`, let the two drift.
    `schema` is passed on to extend_schema (summary, description, responses; examples go on serializers
    or in OpenApiResponse, see core.api_schema.ApiSchema).
    """

    def decorate(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def with_body(view, request, *args, **kwargs):
            return handler(view, request, validated(serializer_class, request), *args, **kwargs)

        return extend_schema(request=serializer_class, **schema)(with_body)

    return decorate


def validated_query(serializer_class: type[serializers.Serializer], request) -> dict:
    """The same for query parameters (each taken once; a list parameter is not used here)."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def form_errors(form, renames: dict[str, str] | None = None) -> exceptions.ValidationError:
    """A Django form's errors as a 400 whose field names are the API's (password1 → password)."""
    renames = renames or {}
    fields = {renames.get(name, name): [str(m) for m in messages] for name, messages in form.errors.items()}
    if "__all__" in fields:
        fields["non_field_errors"] = fields.pop("__all__")
    return exceptions.ValidationError(fields)


class RolePermission(permissions.BasePermission):
    """The API's `role_required`: a logged-in user of one of `roles` (staff count as "admin")."""

    roles: tuple[str, ...] = ()
    message = "This is not available to your account type."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.role in self.roles or ("admin" in self.roles and user.is_staff)


def role_permission(*roles: str) -> type[RolePermission]:
    return type(f"Only{'Or'.join(r.title() for r in roles)}", (RolePermission,), {"roles": roles})
