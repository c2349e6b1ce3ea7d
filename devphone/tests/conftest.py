import pytest

from testing.users import login_as  # noqa: F401  (fixture)

ACCOUNT_SID = "AC" + "d" * 32
FROM_NUMBER = "+15005550006"


@pytest.fixture
def phone_settings(settings):
    """The phone on, with development Twilio values and texts kept in memory."""
    settings.DEV_PHONE_ENABLED = True
    settings.SMS_BACKEND = "locmem"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = "e" * 32
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    return settings


@pytest.fixture
def live_phone(phone_settings, live_server):
    """The phone on, posting to the inbound webhook of a real server."""
    phone_settings.PUBLIC_BASE_URL = live_server.url
    return live_server
