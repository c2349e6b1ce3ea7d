import time

from campaigns import throttle


def test_bucket_allows_a_burst_of_rate_then_paces_one_token_per_interval():
    granted = sum(1 for _ in range(5) if throttle.throttle_wait_ms("sender-a", 5) == 0)
    assert granted == 5
    wait = throttle.throttle_wait_ms("sender-a", 5)
    assert 0 < wait <= 200


def test_senders_have_separate_buckets():
    assert throttle.throttle_wait_ms("sender-a", 1) == 0
    assert throttle.throttle_wait_ms("sender-a", 1) > 0
    assert throttle.throttle_wait_ms("sender-b", 1) == 0


def test_acquire_paces_many_callers_to_the_rate():
    started = time.monotonic()
    for _ in range(6):
        assert throttle.throttle_acquire("sender-c", 10)
    # 10 tokens at once are available, so 6 go at once; the next 10 take about a second.
    for _ in range(10):
        assert throttle.throttle_acquire("sender-c", 10)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.5


def test_slow_down_pauses_the_sender_even_when_unlimited():
    assert throttle.throttle_wait_ms("sender-d", 0) == 0
    throttle.throttle_slow_down("sender-d", 0.3)
    assert throttle.throttle_wait_ms("sender-d", 0) > 0
    assert throttle.throttle_wait_ms("sender-d", 100) > 0
    time.sleep(0.35)
    assert throttle.throttle_wait_ms("sender-d", 0) == 0


def test_acquire_gives_up_when_told_to_stop():
    throttle.throttle_slow_down("sender-e", 5)
    assert throttle.throttle_acquire("sender-e", 1, should_stop=lambda: True) is False
