from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "campaigns"

    def ready(self):
        # The state rules' admin lives apart from the campaign screens; importing it registers it.
        # Its checks of the settings this app owns are registered the same way.
        from . import admin_rules, checks  # noqa: F401
