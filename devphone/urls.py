from django.urls import path

from . import views

app_name = "devphone"
urlpatterns = [
    path("", views.phone_page, name="phone"),
    path("thread/", views.phone_thread_json, name="thread"),
    path("reply/", views.phone_reply, name="reply"),
]
