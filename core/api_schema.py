"""The OpenAPI side of core.api (kept apart: drf-spectacular imports DRF's settings, which import core.api)."""

from drf_spectacular.openapi import AutoSchema

from core.api import ProblemSerializer

# Errors any operation can answer: bad input, no or bad credentials, refused, unknown or someone else's
# object, a state that forbids it, body too large, wrong content type, too many requests.
COMMON_ERRORS = ("400", "401", "403", "404", "409", "413", "415", "429")


class ApiSchema(AutoSchema):
    """drf-spectacular's AutoSchema that documents the common error answers on every operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code in COMMON_ERRORS:
                if code not in responses:
                    responses[code] = self._get_response_for_code(ProblemSerializer, code, direction=direction)
        return responses
