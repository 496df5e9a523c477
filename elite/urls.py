from django.contrib import admin
from django.urls import include, path, re_path

from accounts import verification
from accounts.signup import signup as signup_view

from . import views

admin.site.site_header = "Elite Writing Services — operator console"
admin.site.site_title = "Elite Writing Services console"
admin.site.index_title = "Run the marketplace"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("metrics", views.metrics, name="metrics"),
    # Our signup view first: same URL and name as allauth's, answers alike for new and registered emails.
    path("accounts/signup/", signup_view, name="account_signup"),
    # Code page after signup (same path and name as allauth's) and the emailed link, which allauth's code
    # mode does not register (accounts.verification).
    path("accounts/confirm-email/", verification.code_view, name="account_email_verification_sent"),
    re_path(r"^accounts/confirm-email/(?P<key>[-:\w]+)/$", verification.confirm_link, name="account_confirm_email"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("coaches/", include("coaches.urls")),
    path("requests/", include("requests_app.urls")),
    path("orders/", include("orders.urls")),
    path("files/", include("files.urls")),
    path("payments/", include("payments.urls")),
    path("threads/", include("messaging.urls")),
    path("documents/", include("documents.urls")),
    path("notifications/", include("notifications.urls")),
    path("staff/", include("adminpanel.urls")),
    path("api/v1/", include("elite.api_urls")),
    path("admin/", admin.site.urls),
]

handler403 = "elite.views.error_403"
handler404 = "elite.views.error_404"
handler500 = "elite.views.error_500"
