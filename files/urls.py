from django.urls import path

from . import views

app_name = "files"

urlpatterns = [
    path("", views.file_list, name="list"),
    path("upload/", views.upload, name="upload"),
    path("status/", views.status, name="status"),
    path("<int:pk>/", views.download, name="download"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("d/<str:token>/", views.serve, name="serve"),
]
