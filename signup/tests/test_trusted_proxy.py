"""Behind trusted proxies the client's address is the one our proxies added, never one the client wrote."""

import pytest
import time_machine

from contacts.models import ConsentEvent
from contacts.services import client_ip

from .conftest import form_data

pytestmark = pytest.mark.django_db

MID_WINDOW = "2026-06-15 12:20:00Z"  # rate-limit windows are fixed hours: stay inside one


@time_machine.travel(MID_WINDOW, tick=False)
def test_forged_forwarded_for_values_neither_escape_the_limit_nor_become_evidence(
    client, program, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.SIGNUP_RATE_LIMIT_PER_IP = "10/h"
    settings.SIGNUP_RATE_LIMIT_PER_PHONE = "0/h"  # this test is about the address alone
    statuses = []
    for n in range(14):
        # The client writes a new origin each time; our one proxy appends the address it really saw.
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/join/deals/", form_data(program, phone=f"+1415555{100 + n:04d}"),
                HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}, 198.51.100.23", REMOTE_ADDR="10.0.0.2",
            )  # fmt: skip
        statuses.append(response.status_code)

    assert statuses == [302] * 10 + [429] * 4
    assert ConsentEvent.objects.count() == 10
    assert set(ConsentEvent.objects.values_list("evidence__ip", flat=True)) == {"198.51.100.23"}


@pytest.mark.parametrize(
    ("header", "count", "forwarded", "expected"),
    [
        ("", 1, "192.0.2.1", "10.0.0.2"),  # no proxy configured: the header is ignored
        ("HTTP_X_FORWARDED_FOR", 1, "192.0.2.1, 198.51.100.23", "198.51.100.23"),
        ("HTTP_X_FORWARDED_FOR", 2, "192.0.2.1, 198.51.100.23, 10.0.0.9", "198.51.100.23"),
        ("HTTP_X_FORWARDED_FOR", 2, "198.51.100.23", "198.51.100.23"),  # one proxy skipped: still ours
        ("HTTP_X_FORWARDED_FOR", 1, "", "10.0.0.2"),  # header missing
        ("HTTP_X_FORWARDED_FOR", 1, "192.0.2.1, not-an-address", "10.0.0.2"),  # a broken proxy: not evidence
        ("HTTP_X_FORWARDED_FOR", 1, " 2001:db8::1 ", "2001:db8::1"),
        ("HTTP_X_REAL_IP", 1, "198.51.100.23", "198.51.100.23"),
    ],
)
def test_client_ip_takes_the_value_our_outermost_proxy_added(rf, settings, header, count, forwarded, expected):
    settings.TRUSTED_PROXY_IP_HEADER = header
    settings.TRUSTED_PROXY_COUNT = count
    meta = {"REMOTE_ADDR": "10.0.0.2"}
    if forwarded:
        meta[header or "HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(rf.post("/join/deals/", **meta)) == expected
