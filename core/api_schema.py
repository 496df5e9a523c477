"""The OpenAPI side of core.api (kept apart: drf-spectacular imports DRF's settings, which import core.api)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer
from rest_framework import serializers

from core.api import ProblemSerializer

# Errors any operation can answer: bad input, no or bad credentials, refused, unknown or someone else's
# object, a state that forbids it, body too large, wrong content type, too many requests.
COMMON_ERRORS = ("400", "401", "403", "404", "409", "413", "415", "429")


# Stands in for a serializer whose own examples an operation replaces (it has none).
_WITHOUT_EXAMPLES = serializers.Serializer()


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema that documents the common error answers on every operation.

    Examples: a serializer's own (core.api.examples) show wherever it is used, unless an operation gives
    its own in OpenApiResponse/OpenApiRequest, which then replace them for that body only (accepting a
    request answers an order that is *pending*, not the in-progress one of the order's examples).
    drf-spectacular's own rule, where `extend_schema(examples=…)` hides every serializer's examples of
    the operation, would drop the error examples too; so operations here do not use that.
    """

    def _get_examples(self, serializer, direction, media_type, status_code=None, extras=None):
        if extras and not is_list_serializer(serializer):
            serializer = _WITHOUT_EXAMPLES
        return super()._get_examples(serializer, direction, media_type, status_code, extras)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code in COMMON_ERRORS:
                if code not in responses:
                    responses[code] = self._get_response_for_code(ProblemSerializer, code, direction=direction)
        return responses
