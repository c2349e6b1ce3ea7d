from django.urls import path

from . import views

app_name = "messaging"
urlpatterns = [
    path("inbound/", views.inbound_webhook, name="inbound"),
    path("status/", views.status_callback, name="status"),
    # The same views without the slash: APPEND_SLASH would answer 301, and Twilio doesn't repeat the
    # POST at the new address, so a STOP sent to a webhook configured without the slash would be lost.
    path("inbound", views.inbound_webhook),
    path("status", views.status_callback),
]
