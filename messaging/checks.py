"""Messaging settings checked at start: the backend, retries and the sender's number."""

from django.conf import settings
from django.core.checks import Tags, register
from django.utils.module_loading import import_string

from contacts.phones import phone_normalize
from smsconsent.checks import setting_error, setting_number_errors

from .backends import ALIASES, BaseBackend


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
    if sender and (not sender.startswith("+") or phone_normalize(sender) != sender):
        errors.append(setting_error(
            "TWILIO_FROM_NUMBER", "not a number in E.164.", hint="For example +14155550100.", id="messaging.E003"
        ))  # fmt: skip
    return errors
