"""System checks for configuration mistakes Django itself can't know about."""

import math
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

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


# --- Setting values, checked at start ---------------------------------------------------------------
# A value that would only fail when first used (a rate limit of "1000", a time zone nobody knows) is an
# error at start instead. Each app checks the settings it owns with the functions below (its `checks.py`);
# values that can't even be read as their type stop the process while settings load.


def setting_error(name: str, problem: str, *, hint: str, id: str) -> Error:
    return Error(f"{name}={getattr(settings, name, None)!r}: {problem}", hint=hint, id=id)


def setting_number_errors(bounds: dict[str, tuple[float, float | None]], *, id: str) -> list[Error]:
    """Each named setting must be a finite number from `low` (to `high`, when given)."""
    errors = []
    for name, (low, high) in bounds.items():
        value = getattr(settings, name)
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if number and value >= low and (high is None or value <= high):
            continue
        allowed = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        errors.append(setting_error(name, f"must be a number {allowed}.", hint=_hint(name), id=id))
    return errors


def setting_choice_errors(name: str, choices: tuple[str, ...], *, id: str) -> list[Error]:
    if getattr(settings, name) in choices:
        return []
    allowed = " or ".join(f'"{c}"' for c in choices)
    return [setting_error(name, f"must be {allowed}.", hint=_hint(name), id=id)]


def _hint(name: str) -> str:
    return f"Fix {name} in the environment or .env; .env.example describes it."


@register(Tags.compatibility)
def public_urls_check(app_configs=None, **kwargs):
    """Twilio calls these origins back and signs over them: a typo fails every webhook with a 403."""
    errors = []
    for name in ("PUBLIC_BASE_URL", "STATUS_CALLBACK_BASE_URL"):
        value = getattr(settings, name)
        if name == "STATUS_CALLBACK_BASE_URL" and not value:
            continue  # optional: PUBLIC_BASE_URL then
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            errors.append(setting_error(
                name, "must be an origin like https://sms.example.com.", hint=_hint(name), id="smsconsent.E001"
            ))  # fmt: skip
    return errors
