"""Invalid settings stop `manage.py check` (and so `runserver` and `migrate`) at start, never a request later."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

INVALID = [
    # (setting, value, the check that names it)
    ("SIGNUP_RATE_LIMIT_PER_IP", "1000", "signup.E001"),
    ("SIGNUP_RATE_LIMIT_PER_PHONE", "3 per hour", "signup.E001"),
    ("QUIET_HOURS_FALLBACK_TIME_ZONES", ["America/New_York", "Mars/Olympus_Mons"], "campaigns.E004"),
    ("QUIET_HOURS_FALLBACK_TIME_ZONES", [], "campaigns.E004"),
    ("SMS_PRICE_PER_SEGMENT", -0.0083, "campaigns.E001"),
    ("SMS_PRICE_PER_SEGMENT", float("nan"), "campaigns.E001"),
    ("SMS_PRICE_CURRENCY", "dollars", "campaigns.E005"),
    ("SEND_RATE_PER_SECOND", -1.0, "campaigns.E001"),
    ("SEND_BATCH_SIZE", 0, "campaigns.E001"),
    ("CAMPAIGN_SEND_CHAINS", 0, "campaigns.E001"),
    ("FREQUENCY_CAP_COUNT", -3, "campaigns.E001"),
    ("FREQUENCY_CAP_ACTION", "drop", "campaigns.E002"),
    ("QUIET_HOURS_DEFAULT_START", "8am", "campaigns.E003"),
    ("QUIET_HOURS_DEFAULT_END", "25:00", "campaigns.E003"),
    ("QUIET_HOURS_DEFAULT_END", "07:00", "campaigns.E003"),  # before the 08:00 start: never a moment to send
    ("CONSENT_OPT_OUT_SCOPE", "everything", "contacts.E001"),
    ("CONSENT_EVIDENCE_RETENTION_DAYS", 0, "contacts.E002"),
    ("CONSENT_PENDING_EXPIRY_HOURS", -48, "contacts.E002"),
    ("OPT_OUT_CONFIRMATION_WINDOW_SECONDS", 0, "contacts.E002"),
    ("SMS_ALLOWED_REGIONS", ["US", "USA"], "contacts.E003"),
    ("SMS_ALLOWED_REGIONS", [], "contacts.E003"),
    ("PHONENUMBER_DEFAULT_REGION", "XX", "contacts.E003"),
    ("LEDGER_ANCHOR_SINK", "contacts.anchors.FileSink", "contacts.E004"),
    ("LEDGER_ANCHOR_SINK", "contacts.models.ConsentEvent", "contacts.E004"),
    ("SMS_BACKEND", "consol", "messaging.E002"),
    ("SMS_BACKEND", "messaging.models.OutboundMessage", "messaging.E002"),
    ("TWILIO_FROM_NUMBER", "5005550006", "messaging.E003"),
    ("TWILIO_INBOUND_NUMBERS", ["+14155550100", "415-555-0101"], "messaging.E003"),
    ("SMS_SEND_MAX_ATTEMPTS", 0, "messaging.E001"),
    ("SMS_RETRY_MAX_SECONDS", 1.0, "messaging.E001"),  # below the 5 s base
    ("TWILIO_TIMEOUT_SECONDS", 0.0, "messaging.E001"),
    ("PUBLIC_BASE_URL", "127.0.0.1:8000", "smsconsent.E001"),
    ("PUBLIC_BASE_URL", "ftp://sms.example.com", "smsconsent.E001"),
    ("STATUS_CALLBACK_BASE_URL", "receipts.example.com", "smsconsent.E001"),
]


@pytest.mark.smoke
@pytest.mark.parametrize(("name", "value", "check_id"), INVALID, ids=[f"{n}={v!r}" for n, v, _ in INVALID])
def test_an_invalid_setting_fails_the_system_check(settings, name, value, check_id):
    setattr(settings, name, value)
    with pytest.raises(SystemCheckError) as failed:
        call_command("check")
    assert f"({check_id}) {name}=" in str(failed.value)


@pytest.mark.smoke
def test_the_default_settings_pass_the_system_check():
    call_command("check")  # raises SystemCheckError on any error


@pytest.mark.parametrize(
    ("from_number", "inbound_numbers", "warned"),
    [("", [], True), ("+15005550006", [], False), ("", ["+14155550100"], False)],
)
def test_twilio_with_no_number_to_check_an_inbound_to_against_is_warned_at_start(
    settings, from_number, inbound_numbers, warned
):
    from messaging.checks import messaging_settings_check

    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_INBOUND_NUMBERS = from_number, inbound_numbers
    assert ("messaging.W001" in {check.id for check in messaging_settings_check()}) is warned


def _manage_check(**environment) -> subprocess.CompletedProcess:
    keep = ("PATH", "HOME", "LANG", "SMSCONSENT_NETWORK_GUARD_LOG")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:", **environment})
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_rate_limit_without_its_period_fails_manage_check_instead_of_the_first_sign_up():
    done = _manage_check(SIGNUP_RATE_LIMIT_PER_IP="1000")
    assert done.returncode != 0
    assert "(signup.E001) SIGNUP_RATE_LIMIT_PER_IP='1000'" in done.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SMS_PRICE_PER_SEGMENT", "abc", "SMS_PRICE_PER_SEGMENT='abc' is not a number."),
        ("SEND_BATCH_SIZE", "200 rows", "SEND_BATCH_SIZE='200 rows' is not a whole number."),
        ("TWILIO_OPT_OUT_ERROR_CODES", "21610,stop", "TWILIO_OPT_OUT_ERROR_CODES='21610,stop' is not a list of"),
        # A typo must not turn a compliance rule off: environ alone reads any unknown word as "no".
        ("QUIET_HOURS_ENABLED", "of", "QUIET_HOURS_ENABLED='of' is not a yes/no value"),
    ],
)
def test_a_value_its_setting_cant_hold_stops_every_process_naming_the_setting(name, value, message):
    done = _manage_check(**{name: value})
    assert done.returncode != 0
    assert f"ImproperlyConfigured: {message}" in done.stderr


def test_yes_no_settings_still_accept_the_usual_words():
    done = _manage_check(QUIET_HOURS_ENABLED="off", CAMPAIGN_BRAND_PREFIX="True", TWILIO_ADVANCED_OPT_OUT="no")
    assert done.returncode == 0, done.stderr
