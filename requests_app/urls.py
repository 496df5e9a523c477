from django.urls import path

from . import views

app_name = "requests_app"

urlpatterns = [
    path("", views.my_requests, name="mine"),
    path("new/", views.new_request, name="new"),
    path("available/", views.available, name="available"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/reject/", views.reject, name="reject"),
]
