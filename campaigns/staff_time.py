"""Staff see and enter times in their own time zone: their own choice, else the site's.

The middleware activates it for every request of a logged-in staff user, so
the admin shows times in it and reads typed times in it (Django converts with
the active time zone); public pages keep the site default. Every place that
shows or asks for a time names the zone with `time_zone_label`.
"""

from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import StaffPreference


@dataclass(frozen=True)
class StaffTimeZone:
    name: str
    personal: bool  # the user chose it; else it is the site's


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones() - {"localtime", "Factory"}))


def staff_time_zone(user) -> StaffTimeZone:
    chosen = StaffPreference.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    if chosen in time_zone_names():
        return StaffTimeZone(chosen, True)
    return StaffTimeZone(settings.STAFF_TIME_ZONE, False)


def time_zone_label(request) -> str:
    """“America/Chicago (your time zone)”, or “UTC (the site's time zone)”, for the zone times are in now."""
    zone = getattr(request, "staff_time_zone", None)
    if zone is None:
        return _("%s (the site's time zone)") % timezone.get_current_timezone_name()
    if zone.personal:
        return _("%s (your time zone)") % zone.name
    return _("%s (the site's time zone)") % zone.name


@cache
def _admin_prefix() -> str:
    return reverse("admin:index")


class StaffTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Staff times are shown in the admin only. Elsewhere, and above all on Twilio's webhooks, reading
        # the user (a session, a database query) would make a database outage fail requests that must not.
        if not request.path.startswith(_admin_prefix()):
            return self.get_response(request)
        user = getattr(request, "user", None)
        if not (user is not None and user.is_authenticated and user.is_staff):
            return self.get_response(request)
        zone = staff_time_zone(user)
        request.staff_time_zone = zone
        timezone.activate(ZoneInfo(zone.name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


@register(Tags.compatibility)
def staff_time_zone_check(app_configs=None, **kwargs):
    """A misspelt zone would fail every admin page; say so at start-up instead."""
    if settings.STAFF_TIME_ZONE in time_zone_names():
        return []
    return [
        Error(
            f"STAFF_TIME_ZONE is {settings.STAFF_TIME_ZONE!r}, which is not a time zone name.",
            hint="Use an IANA name such as America/New_York or UTC.",
            id="campaigns.E001",
        )
    ]
