from django.urls import path

from . import views

app_name = "messaging"

urlpatterns = [
    path("", views.thread_list, name="list"),
    path("<int:thread_id>/", views.thread_detail, name="detail"),
    path("<int:thread_id>/messages/", views.thread_messages, name="messages"),
    path("order/<int:order_id>/", views.order_thread, name="order"),
    path("coach/<int:profile_id>/", views.coach_thread, name="coach"),
]
