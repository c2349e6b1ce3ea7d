from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from campaigns.quiet_hours import Rule, allowed_at, next_allowed, state_rules

pytestmark = pytest.mark.smoke


@pytest.fixture(autouse=True)
def _quiet_hours_on(settings):
    settings.QUIET_HOURS_ENABLED = True


NY, LA, CHI = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles"), ZoneInfo("America/Chicago")
TX = Rule(time(9), time(21), time(12), time(21), False)
AL = Rule(time(8), time(20), None, None, True)
FL = Rule(time(8), time(20), None, None, False)
RULES = {"TX": TX, "AL": AL, "FL": FL}


def local(zone, *args):
    return datetime(*args, tzinfo=zone)


def test_federal_window_is_8_to_21_local():
    assert not allowed_at(time_zones="America/New_York", region="", at=local(NY, 2026, 11, 23, 7, 59), rules={})
    assert allowed_at(time_zones="America/New_York", region="", at=local(NY, 2026, 11, 23, 8, 0), rules={})
    assert allowed_at(time_zones="America/New_York", region="", at=local(NY, 2026, 11, 23, 20, 59), rules={})
    assert not allowed_at(time_zones="America/New_York", region="", at=local(NY, 2026, 11, 23, 21, 0), rules={})


def test_late_evening_defers_to_next_morning_in_the_recipients_zone():
    at = local(NY, 2026, 11, 23, 22, 30)
    assert next_allowed(time_zones="America/New_York", region="", at=at, rules={}) == local(NY, 2026, 11, 24, 8, 0)


def test_number_in_several_zones_is_allowed_only_when_every_zone_is_in_its_window():
    zones = "America/Los_Angeles|America/New_York"
    # 08:30 in New York is 05:30 in Los Angeles: not yet.
    at = local(NY, 2026, 11, 23, 8, 30)
    assert not allowed_at(time_zones=zones, region="", at=at, rules={})
    assert next_allowed(time_zones=zones, region="", at=at, rules={}) == local(LA, 2026, 11, 23, 8, 0)
    # 20:30 in Los Angeles is 23:30 in New York: too late there, so tomorrow 08:00 in Los Angeles.
    at = local(LA, 2026, 11, 23, 20, 30)
    assert next_allowed(time_zones=zones, region="", at=at, rules={}) == local(LA, 2026, 11, 24, 8, 0)


def test_state_window_narrows_the_federal_one():
    at = local(NY, 2026, 11, 23, 20, 15)  # fine federally, past Florida's 20:00
    assert allowed_at(time_zones="America/New_York", region="NY", at=at, rules=RULES)
    assert not allowed_at(time_zones="America/New_York", region="FL", at=at, rules=RULES)
    assert next_allowed(time_zones="America/New_York", region="FL", at=at, rules=RULES) == local(NY, 2026, 11, 24, 8)


def test_texas_sunday_starts_at_noon_and_weekdays_at_nine():
    sunday = local(CHI, 2026, 11, 22, 10, 0)
    assert sunday.weekday() == 6
    assert not allowed_at(time_zones="America/Chicago", region="TX", at=sunday, rules=RULES)
    assert next_allowed(time_zones="America/Chicago", region="TX", at=sunday, rules=RULES) == local(
        CHI, 2026, 11, 22, 12
    )
    monday = local(CHI, 2026, 11, 23, 8, 30)
    assert next_allowed(time_zones="America/Chicago", region="TX", at=monday, rules=RULES) == local(
        CHI, 2026, 11, 23, 9
    )


def test_no_sunday_states_wait_until_monday_morning():
    saturday_night = local(CHI, 2026, 11, 21, 20, 30)
    expected = local(CHI, 2026, 11, 23, 8, 0)
    assert next_allowed(time_zones="America/Chicago", region="AL", at=saturday_night, rules=RULES) == expected
    assert not allowed_at(time_zones="America/Chicago", region="AL", at=local(CHI, 2026, 11, 22, 12), rules=RULES)


def test_unknown_zone_must_fit_every_continental_zone(settings):
    at = local(NY, 2026, 11, 23, 9, 0)  # 06:00 in Los Angeles
    assert not allowed_at(time_zones="", region="", at=at, rules={})
    assert next_allowed(time_zones="", region="", at=at, rules={}) == local(LA, 2026, 11, 23, 8, 0)


def test_quiet_hours_can_be_switched_off(settings):
    settings.QUIET_HOURS_ENABLED = False
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 02:00 in New York
    assert allowed_at(time_zones="America/New_York", region="", at=at, rules={})


def test_federal_window_is_a_setting(settings):
    settings.QUIET_HOURS_DEFAULT_START = "10:00"
    assert not allowed_at(time_zones="America/New_York", region="", at=local(NY, 2026, 11, 23, 9, 30), rules={})


@pytest.mark.django_db
def test_state_rules_are_seeded_as_editable_data():
    rules = state_rules()
    assert set(rules) == {"FL", "OK", "MD", "CT", "WA", "TX", "AL", "LA", "MS"}
    assert rules["TX"].sunday_start == time(12)
    assert rules["MS"].no_sundays and rules["AL"].no_sundays and rules["LA"].no_sundays
    assert rules["CT"].start == time(9)
