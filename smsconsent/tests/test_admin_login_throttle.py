"""Admin logins are throttled per username and per address (django-axes), behind the proxy setting too."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from contacts.services import client_ip

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
PASSWORD = "the-right-password-for-tests"
START = "2026-06-15 12:00:00Z"


@pytest.fixture
def staff(db, settings):
    # Fast hashing: what is tested is how many attempts get through, not the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return get_user_model().objects.create_user("mia", "mia@example.com", PASSWORD, is_staff=True)


def attempt(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@time_machine.travel(START, tick=False)
def test_forty_wrong_passwords_do_not_all_go_through(client, staff, settings):
    answers = [attempt(client, "mia", f"guess-{n}").status_code for n in range(40)]
    assert answers[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # "wrong password"
    assert answers.count(429) >= 40 - settings.AXES_FAILURE_LIMIT
    assert 429 in answers[: settings.AXES_FAILURE_LIMIT + 1]


@time_machine.travel(START, tick=False)
def test_locked_out_the_right_password_is_refused_with_a_clear_page(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "mia", f"guess-{n}")

    response = attempt(client, "mia", PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert f"Try again in {settings.AXES_COOLOFF_MINUTES} minutes." in page
    assert "Until then even the right password is refused." in page


def test_the_lockout_ends_after_the_cool_off_even_if_someone_keeps_trying(client, staff, settings):
    with time_machine.travel(START, tick=False) as clock:
        for n in range(settings.AXES_FAILURE_LIMIT):
            attempt(client, "mia", f"guess-{n}")
        clock.shift(timedelta(minutes=settings.AXES_COOLOFF_MINUTES - 1))
        assert attempt(client, "mia", "still-guessing").status_code == 429  # doesn't restart the clock
        assert attempt(client, "mia", PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=1, seconds=1))
        assert attempt(client, "mia", PASSWORD).status_code == 302
        assert logged_in(client)


@time_machine.travel(START, tick=False)
def test_one_username_is_locked_whatever_address_the_guesses_come_from(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "mia", f"guess-{n}", REMOTE_ADDR=f"198.51.100.{n + 1}")
    assert attempt(client, "mia", PASSWORD, REMOTE_ADDR="203.0.113.50").status_code == 429
    assert not logged_in(client)


@time_machine.travel(START, tick=False)
def test_one_address_is_locked_whatever_usernames_it_tries(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, f"user-{n}", "guess", REMOTE_ADDR="198.51.100.9")
    assert attempt(client, "mia", PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 429
    assert not logged_in(client)
    # Staff elsewhere are not affected.
    assert attempt(client, "mia", PASSWORD, REMOTE_ADDR="203.0.113.50").status_code == 302


@time_machine.travel(START, tick=False)
def test_behind_the_proxy_forged_forwarded_addresses_do_not_escape_the_lockout(client, staff, settings):
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        # Each guess claims another origin on the left; the proxy appends the address it really saw.
        attempt(client, f"user-{n}", "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}, 198.51.100.9", **proxy)
    forged = attempt(client, "mia", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200, 198.51.100.9", **proxy)
    assert forged.status_code == 429
    other_client = attempt(client, "mia", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.77", **proxy)
    assert other_client.status_code == 302


@time_machine.travel(START, tick=False)
def test_a_right_password_resets_the_count(client, staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "mia", f"guess-{n}")
    assert attempt(client, "mia", PASSWORD).status_code == 302
    client.logout()
    assert attempt(client, "mia", "one-typo").status_code == 200  # a fresh count, not a lockout
    assert timezone.now().year == 2026


def test_client_ip_is_what_axes_uses(settings, rf):
    from axes.helpers import get_client_ip_address

    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    request = rf.get("/", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.9", REMOTE_ADDR="10.0.0.2")
    assert get_client_ip_address(request) == client_ip(request) == "198.51.100.9"
