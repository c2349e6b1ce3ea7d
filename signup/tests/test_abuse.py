"""Rate limits per IP and per phone number, counted in Redis through the Django cache."""

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from contacts.models import ConsentEvent
from messaging.backends import locmem
from messaging.models import OutboundMessage
from signup.ratelimit import Rate, rate_limit_exceeded, rate_parse

from .conftest import form_data

# Fixed windows: keep each test inside one window, however slowly it runs.
MID_WINDOW = "2026-06-15 12:20:00Z"


def test_rate_strings_parse_and_bad_ones_fail_loudly():
    assert rate_parse("10/h") == Rate(count=10, seconds=3600)
    assert rate_parse("5/10m") == Rate(count=5, seconds=600)
    with pytest.raises(ImproperlyConfigured):
        rate_parse("ten per hour")


@time_machine.travel(MID_WINDOW, tick=False)
def test_counter_allows_the_limit_then_refuses_and_keys_are_independent():
    assert [rate_limit_exceeded(scope="t", key="a", rate="2/h") for _ in range(3)] == [False, False, True]
    assert rate_limit_exceeded(scope="t", key="b", rate="2/h") is False


@time_machine.travel(MID_WINDOW, tick=False)
def test_zero_rate_disables_the_limit():
    assert not any(rate_limit_exceeded(scope="t", key="a", rate="0/h") for _ in range(5))


@pytest.mark.django_db
@time_machine.travel(MID_WINDOW, tick=False)
def test_ip_over_the_limit_is_blocked_with_a_message_and_nothing_sent(
    client, program, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SIGNUP_RATE_LIMIT_PER_IP = "2/h"
    for n in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/join/deals/", form_data(program, phone=f"+1415555010{n}"))
        assert response.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        blocked = client.post("/join/deals/", form_data(program, phone="+14155550109"))

    assert blocked.status_code == 429
    assert "Too many sign-up attempts. Nothing was sent." in blocked.content.decode()
    assert ConsentEvent.objects.count() == 2
    assert OutboundMessage.objects.count() == 2
    assert len(locmem.outbox) == 2
    # Another address is unaffected.
    with django_capture_on_commit_callbacks(execute=True):
        other = client.post("/join/deals/", form_data(program, phone="+14155550109"), REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 302


@pytest.mark.django_db
@time_machine.travel(MID_WINDOW, tick=False)
def test_phone_over_the_limit_is_blocked_from_any_address_and_nothing_sent(
    client, double_opt_in_program, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.SIGNUP_RATE_LIMIT_PER_PHONE = "2/h"
    for n in (1, 2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/join/vip/", form_data(double_opt_in_program), REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        # The same number in another format is the same number.
        blocked = client.post("/join/vip/", form_data(double_opt_in_program, phone="+1 415 555 0142"),
                              REMOTE_ADDR="198.51.100.3")  # fmt: skip

    assert blocked.status_code == 429
    assert "Too many sign-up attempts" in blocked.content.decode()
    # The second sign-up found the first still waiting for its YES: no second request either.
    assert ConsentEvent.objects.count() == 1
    assert len(locmem.outbox) == 1


def test_counts_start_again_in_the_next_window():
    with time_machine.travel("2026-06-15 12:59:59Z", tick=False):
        assert [rate_limit_exceeded(scope="t", key="a", rate="1/h") for _ in range(2)] == [False, True]
    with time_machine.travel("2026-06-15 13:00:01Z", tick=False):
        assert rate_limit_exceeded(scope="t", key="a", rate="1/h") is False
