"""Sign-up settings checked at start: a rate limit that can't be read was a 500 on the first sign-up."""

from django.conf import settings
from django.core.checks import Tags, register
from django.core.exceptions import ImproperlyConfigured

from smsconsent.checks import setting_error

from .ratelimit import rate_parse


@register(Tags.compatibility)
def signup_settings_check(app_configs=None, **kwargs):
    errors = []
    for name in (
        "SIGNUP_RATE_LIMIT_PER_IP", "SIGNUP_RATE_LIMIT_PER_PHONE", "OPTOUT_RATE_LIMIT_PER_IP",
        "OPTOUT_RATE_LIMIT_PER_PHONE", "TEST_SEND_RATE_LIMIT",
    ):
        try:
            rate_parse(str(getattr(settings, name)))
        except ImproperlyConfigured as error:
            errors.append(setting_error(
                name, str(error), hint='For example "10/h", "3/h" or "5/10m"; "0/h" turns the limit off.',
                id="signup.E001",
            ))  # fmt: skip
    return errors
