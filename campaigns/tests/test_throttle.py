"""The shared send pace: tokens one interval apart, no saved-up bursts, one pace for every process."""

import json
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import settings as settings_profile
from hypothesis import strategies as st

from campaigns import throttle
from campaigns.coordination import key, redis_client
from testing.worker import ROOT, process_env


def most_in_one_second(moments_ms) -> int:
    """The largest number of moments inside any window [t, t + 1000 ms)."""
    moments = sorted(moments_ms)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1000:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_bucket_grants_one_token_per_interval_and_saves_no_burst_while_idle(settings):
    settings.SEND_RATE_BURST_SECONDS = 0.05
    sender = f"sender-{uuid.uuid4()}"
    assert throttle.throttle_take(sender, 5, want=10, now_ms=0).tokens == 1
    refused = throttle.throttle_take(sender, 5, want=10, now_ms=0)
    assert (refused.tokens, refused.wait_ms) == (0, 150)  # the next moment is 200 ms on, 50 ms early allowed
    assert throttle.throttle_take(sender, 5, want=10, now_ms=150).tokens == 1
    # Ten idle seconds buy nothing: the next grant is one token again, not a burst of fifty.
    assert throttle.throttle_take(sender, 5, want=10, now_ms=10_000).tokens == 1
    assert throttle.throttle_take(sender, 5, want=10, now_ms=10_000).tokens == 0


def test_a_fast_sender_gets_small_groups_within_the_burst_tolerance(settings):
    settings.SEND_RATE_BURST_SECONDS = 0.05
    sender = f"sender-{uuid.uuid4()}"
    # 100/s: a token every 10 ms, 50 ms ahead allowed, so at most 6 at one moment.
    assert throttle.throttle_take(sender, 100, want=32, now_ms=0).tokens == 6
    assert throttle.throttle_take(sender, 100, want=32, now_ms=0).tokens == 0
    assert throttle.throttle_take(sender, 100, want=32, now_ms=20).tokens == 2


@settings_profile(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([1, 2.5, 5, 9, 19, 30, 100]),
    steps=st.lists(st.tuples(st.integers(0, 1500), st.integers(1, 40)), min_size=1, max_size=60),
)
def test_no_second_holds_more_than_the_rate_allows_whatever_callers_ask(rate, steps):
    """On a clock the test drives: any second holds at most rate × (1 + burst) + 1 grants (rate + 1 below 20/s),
    the long run never exceeds the rate, and a caller told to wait gets a token when that wait is over."""
    from django.conf import settings

    burst_ms = settings.SEND_RATE_BURST_SECONDS * 1000
    interval = 1000 / rate
    sender, now, granted = f"sender-{uuid.uuid4()}", 0, []
    for advance, want in steps:
        now += advance
        grant = throttle.throttle_take(sender, rate, want=want, now_ms=now)
        granted += [now] * grant.tokens
        if not grant.tokens:
            assert grant.wait_ms > 0
            retry = throttle.throttle_take(sender, rate, want=want, now_ms=now + grant.wait_ms)
            assert retry.tokens >= 1
            now += grant.wait_ms
            granted += [now] * retry.tokens
    assert most_in_one_second(granted) <= int((1000 + burst_ms) / interval) + 1
    if rate < 20:
        assert most_in_one_second(granted) <= rate + 1
    assert len(granted) <= (granted[-1] - granted[0] + burst_ms) / interval + 1


def test_two_processes_share_one_pace(settings):
    """Two processes hungry for tokens at 5/s: together they keep 5/s, and no second holds more than 6."""
    sender, rate, each = f"sender-{uuid.uuid4()}", 5, 10
    env = process_env()
    command = [sys.executable, "-m", "campaigns.tests.throttle_probe", sender, str(rate), str(each)]
    probes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for probe in probes:  # both set up (the slow part, on a busy machine), then both start at once
        assert probe.stdout.readline().strip() == "ready", probe.stderr.read()
    grants = []
    for probe in probes:
        probe.stdin.write("go\n")
        probe.stdin.flush()
    for probe in probes:
        out, err = probe.communicate(timeout=60)
        assert probe.returncode == 0, err
        grants.append(json.loads(out))
    both = sorted(grants[0] + grants[1])
    assert len(both) == 2 * each
    assert most_in_one_second(both) <= rate + 1
    span_s = (both[-1] - both[0]) / 1000
    assert len(both) - 1 <= rate * span_s + rate * settings.SEND_RATE_BURST_SECONDS + 1e-6
    # The two took turns at one pace rather than each at its own.
    assert min(grants[1]) < max(grants[0]) and min(grants[0]) < max(grants[1])


def test_senders_have_separate_buckets():
    assert throttle.throttle_take("sender-a", 1).tokens == 1
    assert throttle.throttle_take("sender-a", 1).tokens == 0
    assert throttle.throttle_take("sender-b", 1).tokens == 1


def test_slow_down_pauses_the_sender_even_when_unlimited():
    assert throttle.throttle_take("sender-d", 0).tokens == 1
    throttle.throttle_slow_down("sender-d", 0.3)
    assert throttle.throttle_take("sender-d", 0).tokens == 0
    assert 0 < throttle.throttle_take("sender-d", 100).wait_ms <= 300
    assert 0 < redis_client().pttl(key("pause", "sender-d")) <= 300  # it ends by itself


def test_acquire_gives_up_when_told_to_stop():
    throttle.throttle_slow_down("sender-e", 5)
    assert throttle.throttle_acquire("sender-e", 1, should_stop=lambda: True) == 0


@pytest.mark.django_db
def test_campaign_texts_follow_the_rate_instead_of_going_out_in_bursts(settings):
    """At 4 a second a batch of 8 goes out one by one, not saved up and sent at once."""
    from campaigns.dispatch import campaign_send_batch
    from campaigns.tests.factories import make_campaign, subscriber
    from campaigns.tests.test_engine import started
    from contacts.tests.factories import make_program
    from messaging.backends import locmem

    settings.SEND_RATE_PER_SECOND = 4
    settings.SEND_BATCH_SIZE = 8
    program = make_program()
    for _ in range(8):
        subscriber(program)
    campaign = started(make_campaign(program))
    assert campaign_send_batch(campaign_id=campaign.pk).sent == 8
    sent_at = [r.created_at for r in locmem.outbox.results]
    moments = [(at - sent_at[0]) / timedelta(milliseconds=1) for at in sent_at]
    assert len(moments) == 8
    assert most_in_one_second(moments) <= 4 + 1
