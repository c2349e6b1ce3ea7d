from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from signup import views as signup_views

from .health import healthz

admin.site.site_header = "smsconsent"
admin.site.site_title = "smsconsent"
admin.site.index_title = "SMS marketing with proof of consent"
admin.site.site_url = None  # no public home page: "View site" led to a 404

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for it on every visit; "no content" keeps a 404 line per visit out of the log.
    path("favicon.ico", lambda request: HttpResponse(status=204)),
    path("admin/phone/", include("devphone.urls")),  # before the admin's catch-all; 404 unless DEV_PHONE_ENABLED
    path("admin/", admin.site.urls),
    path("sms/", include("messaging.urls")),
    path("join/", include("signup.urls")),
    path("optout/", signup_views.optout_page, name="optout"),
    path("i18n/", include("django.conf.urls.i18n")),
]
