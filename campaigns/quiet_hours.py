"""Sending windows in the recipient's local time.

A number may map to several time zones; a send is allowed only when it is
allowed in every one of them. The federal window always applies and a state
rule (`StateRule`, editable data) narrows it. Decisions are made per distinct
(time zones, state) group, of which there are a few hundred at most.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

from .models import StateRule

SUNDAY = 6
# Far enough to cover a week of no-Sunday rules and odd multi-zone overlaps.
_SEARCH_DAYS = 8


@dataclass(frozen=True)
class Rule:
    """The plain-data view of a `StateRule` (or of no rule)."""

    start: time | None = None
    end: time | None = None
    sunday_start: time | None = None
    sunday_end: time | None = None
    no_sundays: bool = False


def state_rules() -> dict[str, Rule]:
    """Every state's rule, read once per batch: the table has a few dozen rows at most."""
    return {r.region: Rule(r.start, r.end, r.sunday_start, r.sunday_end, r.no_sundays) for r in StateRule.objects.all()}


def _parse(value: str) -> time:
    return time.fromisoformat(value)


def day_window(rule: Rule | None, day: date) -> tuple[time, time] | None:
    """The allowed [start, end) local times on `day`, or None when nothing may be sent that day."""
    start, end = _parse(settings.QUIET_HOURS_DEFAULT_START), _parse(settings.QUIET_HOURS_DEFAULT_END)
    if rule is not None:
        if day.weekday() == SUNDAY and rule.no_sundays:
            return None
        if day.weekday() == SUNDAY and rule.sunday_start and rule.sunday_end:
            start, end = max(start, rule.sunday_start), min(end, rule.sunday_end)
        else:
            start, end = max(start, rule.start or start), min(end, rule.end or end)
    return (start, end) if start < end else None


def zones_of(time_zones: str) -> list[ZoneInfo]:
    names = [z for z in (time_zones or "").split("|") if z] or settings.QUIET_HOURS_FALLBACK_TIME_ZONES
    return [_zone(name) for name in names]


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def allowed_at(*, time_zones: str, region: str, at: datetime, rules: dict[str, Rule]) -> bool:
    if not settings.QUIET_HOURS_ENABLED:
        return True
    rule = rules.get(region)
    for zone in zones_of(time_zones):
        local = at.astimezone(zone)
        window = day_window(rule, local.date())
        if window is None or not (window[0] <= local.time() < window[1]):
            return False
    return True


def next_allowed(*, time_zones: str, region: str, at: datetime, rules: dict[str, Rule]) -> datetime | None:
    """`at` when sending is allowed then; else the next moment it is, in every zone; None if none within a week."""
    if allowed_at(time_zones=time_zones, region=region, at=at, rules=rules):
        return at
    rule = rules.get(region)
    candidates = set()
    for zone in zones_of(time_zones):
        today = at.astimezone(zone).date()
        for offset in range(_SEARCH_DAYS):
            day = today + timedelta(days=offset)
            window = day_window(rule, day)
            if window:
                opening = datetime.combine(day, window[0], tzinfo=zone)
                if opening > at:
                    candidates.add(opening)
    for candidate in sorted(candidates):
        if allowed_at(time_zones=time_zones, region=region, at=candidate, rules=rules):
            return candidate
    return None
