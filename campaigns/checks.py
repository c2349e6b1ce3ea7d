"""Sending settings checked at start: quiet hours, time zones, prices, caps and pacing."""

from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.checks import Tags, register

from smsconsent.checks import setting_choice_errors, setting_error, setting_number_errors

from .quiet_hours import day_window

FREQUENCY_CAP_ACTIONS = ("defer", "skip")  # campaigns/dispatch.py: over the cap, send later or never


@register(Tags.compatibility)
def campaigns_settings_check(app_configs=None, **kwargs):
    errors = setting_number_errors(
        {
            "SMS_PRICE_PER_SEGMENT": (0, None),
            "SEND_RATE_PER_SECOND": (0, None),
            "SEND_BATCH_SIZE": (1, None),
            "AUDIENCE_BATCH_SIZE": (1, None),
            "FREQUENCY_CAP_COUNT": (0, None),
            "FREQUENCY_CAP_WINDOW_HOURS": (1, None),
            "CAMPAIGN_SEND_CHAINS": (1, None),
            "CAMPAIGN_CHAIN_LEASE_SECONDS": (1, None),
            "CAMPAIGN_BUILD_LEASE_SECONDS": (1, None),
            "SEND_CLAIM_TIMEOUT_SECONDS": (1, None),
            "SEND_THROTTLE_PAUSE_SECONDS": (0, None),
            "CAMPAIGNS_TICK_SECONDS": (0.1, None),
        },
        id="campaigns.E001",
    )
    errors += setting_choice_errors("FREQUENCY_CAP_ACTION", FREQUENCY_CAP_ACTIONS, id="campaigns.E002")
    errors += _quiet_hours_errors() + _time_zone_errors()
    if not (isinstance(settings.SMS_PRICE_CURRENCY, str) and len(settings.SMS_PRICE_CURRENCY) == 3):
        errors.append(setting_error(
            "SMS_PRICE_CURRENCY", "must be a three-letter currency code.", hint="For example USD.", id="campaigns.E005"
        ))  # fmt: skip
    return errors


def _quiet_hours_errors() -> list:
    hint = "Local times as HH:MM, start before end, e.g. 08:00 and 21:00."
    names = ("QUIET_HOURS_DEFAULT_START", "QUIET_HOURS_DEFAULT_END")
    unreadable = [name for name in names if not _is_time(getattr(settings, name))]
    if unreadable:
        return [setting_error(name, "not a time of day.", hint=hint, id="campaigns.E003") for name in unreadable]
    if day_window(None, date.today()) is None:  # the federal window, read as the engine reads it
        problem = "must come after QUIET_HOURS_DEFAULT_START: nothing could ever be sent."
        return [setting_error("QUIET_HOURS_DEFAULT_END", problem, hint=hint, id="campaigns.E003")]
    return []


def _is_time(value) -> bool:
    try:
        time.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _time_zone_errors() -> list:
    unknown = []
    for name in settings.QUIET_HOURS_FALLBACK_TIME_ZONES:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            unknown.append(name)
    if unknown or not settings.QUIET_HOURS_FALLBACK_TIME_ZONES:
        return [setting_error(
            "QUIET_HOURS_FALLBACK_TIME_ZONES", f"unknown time zone(s): {', '.join(unknown) or 'none given'}.",
            hint="IANA names such as America/New_York.", id="campaigns.E004",
        )]  # fmt: skip
    return []
