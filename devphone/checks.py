"""The development phone forges consent: production must never have it on by accident."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def dev_phone_off_in_production(app_configs=None, **kwargs):
    if not settings.DEV_PHONE_ENABLED or settings.DEBUG:
        return []
    return [
        Warning(
            "DEV_PHONE_ENABLED is on with DEBUG=0: any staff member can post texts as any number, "
            "opting people in or out.",
            hint="Unset DEV_PHONE_ENABLED in production.",
            id="devphone.W001",
        )
    ]
