"""How the OpenAPI document names our three ways to authenticate (loaded by AccountsConfig.ready)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.BearerAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class CookieScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.CookieAuthentication"
    name = "accessCookie"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.API_ACCESS_COOKIE}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.ApiSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
