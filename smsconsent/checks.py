"""System checks for configuration mistakes Django itself can't know about."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

_TWILIO_BACKENDS = ("twilio", "messaging.backends.twilio.TwilioBackend")


@register(Tags.compatibility, deploy=False)
def twilio_settings_check(app_configs=None, **kwargs):
    """Sending through Twilio without credentials or a sender fails on the first text; say so at start-up."""
    if settings.SMS_BACKEND not in _TWILIO_BACKENDS:
        return []
    warnings = []
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not getattr(settings, name, "")]
    if missing:
        warnings.append(
            Warning(
                f"SMS_BACKEND is twilio but {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set.",
                hint="Set them from the Twilio console, or use SMS_BACKEND=console for development.",
                id="smsconsent.W001",
            )
        )
    if not (settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER):
        warnings.append(
            Warning(
                "SMS_BACKEND is twilio but no sender is set.",
                hint="Set TWILIO_MESSAGING_SERVICE_SID (preferred) or TWILIO_FROM_NUMBER.",
                id="smsconsent.W002",
            )
        )
    return warnings
