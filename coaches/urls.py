from django.urls import path

from . import views

app_name = "coaches"

urlpatterns = [
    path("", views.directory, name="directory"),
    path("me/profile/", views.edit_profile, name="edit_profile"),
    path("<int:pk>/", views.detail, name="detail"),
]
