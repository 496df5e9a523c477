from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("verify-email/", views.verify_email_needed, name="verify_email_needed"),
]
