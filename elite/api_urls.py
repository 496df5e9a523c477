"""/api/v1/: each app's API routes, assembled here (the composition root), plus the OpenAPI contract."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("notifications.api")),
    path("", include("files.api")),
    path("", include("coaches.api")),
    path("", include("requests_app.api")),
    path("", include("orders.api")),
    path("", include("messaging.api")),
    path("", include("payments.api")),
    path("", include("adminpanel.api")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
