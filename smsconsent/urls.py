from django.contrib import admin
from django.urls import include, path

from .health import healthz

admin.site.site_header = "smsconsent"
admin.site.site_title = "smsconsent"
admin.site.index_title = "SMS marketing with proof of consent"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("sms/", include("messaging.urls")),
    path("join/", include("signup.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
