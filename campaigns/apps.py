from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self):
        # The state rules' admin lives apart from the campaign screens; the checks of the settings this app
        # owns, and the staff time zone module's, are registered by importing them.
        from . import admin_rules, checks, staff_time  # noqa: F401
