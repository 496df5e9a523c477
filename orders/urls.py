from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("<int:pk>/", views.order_detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/deliver/", views.deliver, name="deliver"),
    path("<int:pk>/revision/", views.request_revision, name="request_revision"),
    path("<int:pk>/accept/", views.accept_delivery, name="accept_delivery"),
    path("<int:pk>/dispute/", views.open_dispute, name="open_dispute"),
    path("<int:pk>/dispute/statement/", views.dispute_statement, name="dispute_statement"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/review/reply/", views.reply, name="reply"),
    path("accept-request/<int:request_id>/", views.accept_request, name="accept_request"),
]
