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
    path("avatar/", views.avatar_upload, name="avatar_upload"),
    path("avatar/remove/", views.avatar_remove, name="avatar_remove"),
    path("avatar/<int:user_id>/", views.avatar, name="avatar"),
    path("export/", views.export_request, name="export"),
]
