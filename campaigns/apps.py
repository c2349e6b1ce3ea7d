from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self):
        # The state rules' admin lives apart from the campaign screens, and the staff time zone module
        # holds a system check: importing them registers them.
        from . import admin_rules, staff_time  # noqa: F401
