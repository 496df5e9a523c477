from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("orders/<int:order_pk>/read/<int:asset_pk>/", views.read, name="read"),
    path("orders/<int:order_pk>/read/<int:asset_pk>/comment/", views.comment, name="comment"),
    path("orders/<int:order_pk>/compare/", views.compare, name="compare"),
    path("orders/<int:order_pk>/revision/", views.revision_from_comments, name="revision"),
    path("orders/<int:order_pk>/report/", views.report, name="report"),
    path("orders/<int:order_pk>/jobs/", views.add_job, name="add_job"),
    path("jobs/<int:pk>/remove/", views.remove_job, name="remove_job"),
    path("comments/<int:pk>/reply/", views.reply, name="reply"),
    path("comments/<int:pk>/resolve/", views.resolve, name="resolve"),
]
