from django.urls import path

from . import views

app_name = "messaging"
urlpatterns = [
    path("inbound/", views.inbound_webhook, name="inbound"),
    path("status/", views.status_callback, name="status"),
]
