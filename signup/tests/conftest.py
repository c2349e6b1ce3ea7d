import pytest
from django.core.cache import cache
from django.utils import translation

from contacts.tests.factories import make_program
from signup.disclosure import disclosure_compose
from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture, for the browser tests)


@pytest.fixture(autouse=True)
def _empty_rate_limit_counters():
    # Rate-limit counters live in this run's own Redis database.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def program(db):
    return make_program(slug="deals", double_opt_in=False)


@pytest.fixture
def double_opt_in_program(db):
    return make_program(slug="vip", name="VIP club", double_opt_in=True)


def form_data(program, language="en", **overrides):
    with translation.override(language):
        sha = disclosure_compose(program).sha256
    data = {"phone": "(415) 555-0142", "first_name": "Ana", "consent": "on", "disclosure_sha256": sha, "website": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
