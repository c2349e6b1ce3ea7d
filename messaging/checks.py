"""Messaging settings checked at start: the backend, retries and the sender's number."""

from django.conf import settings
from django.core.checks import Tags, Warning, register
from django.utils.module_loading import import_string

from contacts.phones import phone_normalize
from smsconsent.checks import setting_error, setting_number_errors

from .backends import ALIASES, BaseBackend
from .backends.twilio import TwilioBackend


@register(Tags.compatibility)
def messaging_settings_check(app_configs=None, **kwargs):
    errors = setting_number_errors(
        {
            "SMS_SEND_MAX_ATTEMPTS": (1, None),
            "SMS_RETRY_BASE_SECONDS": (0.1, None),
            "SMS_RETRY_MAX_SECONDS": (settings.SMS_RETRY_BASE_SECONDS, None),
            "SMS_SEND_CONCURRENCY": (1, None),
            "TWILIO_HTTP_POOL_SIZE": (1, None),
            "TWILIO_TIMEOUT_SECONDS": (0.1, None),
            "SMS_KEYWORD_CACHE_SECONDS": (0, None),
        },
        id="messaging.E001",
    )
    try:
        backend = import_string(ALIASES.get(settings.SMS_BACKEND, settings.SMS_BACKEND))
        usable = isinstance(backend, type) and issubclass(backend, BaseBackend)
    except ImportError:
        usable = False
    if not usable:
        errors.append(setting_error(
            "SMS_BACKEND", f"not {', '.join(ALIASES)} or the dotted path of a backend class.",
            hint="console for development, twilio in production.", id="messaging.E002",
        ))  # fmt: skip
    sender = settings.TWILIO_FROM_NUMBER
    if sender and not _e164(sender):
        errors.append(setting_error(
            "TWILIO_FROM_NUMBER", "not a number in E.164.", hint="For example +14155550100.", id="messaging.E003"
        ))  # fmt: skip
    if not all(_e164(number) for number in settings.TWILIO_INBOUND_NUMBERS):
        errors.append(setting_error(
            "TWILIO_INBOUND_NUMBERS", "each must be a number in E.164.",
            hint="Comma-separated, for example +14155550100,+14155550101.", id="messaging.E003",
        ))  # fmt: skip
    if usable and issubclass(backend, TwilioBackend) and not sender and not settings.TWILIO_INBOUND_NUMBERS:
        # Texts then go out through a Messaging Service alone: nothing names the numbers people text.
        errors.append(Warning(
            "The inbound webhook can't check that a text was sent to one of our numbers (its To).",
            hint="Set TWILIO_INBOUND_NUMBERS to the Messaging Service's numbers, so a signed request for "
            "another number is refused.", id="messaging.W001",
        ))  # fmt: skip
    return errors


def _e164(number: str) -> bool:
    return number.startswith("+") and phone_normalize(number) == number
