import pytest

from campaigns.coordination import key, redis_client
from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture)
from testing.worker import celery_processes, pytest_runtest_makereport  # noqa: F401  (fixture and its hook)


@pytest.fixture(autouse=True)
def _engine_settings(settings):
    """Fast, predictable sending for in-process tests; each test sets the rule it is about."""
    settings.SEND_RATE_PER_SECOND = 0
    settings.FREQUENCY_CAP_COUNT = 0
    settings.SENDING_CLOCK_OFFSET_SECONDS = 0


@pytest.fixture(autouse=True)
def _clean_redis():
    """Leases and rate buckets start empty; only this app's keys are touched (the Redis db may be shared)."""

    def clear():
        client = redis_client()
        for name in client.scan_iter(match=key("*"), count=1000):
            client.delete(name)

    clear()
    yield
    clear()
