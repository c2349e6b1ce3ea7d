from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevphoneConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "devphone"
    verbose_name = _("Development phone")

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy check)
