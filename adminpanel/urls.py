from django.urls import path

from . import views

app_name = "adminpanel"

urlpatterns = [
    path("analytics/", views.analytics_view, name="analytics"),
    path("transactions/", views.transactions_view, name="transactions"),
]
