"""Each sender's pace, shared through Redis by every worker on every machine.

Twilio queues per sender (a long code sends about one segment a second) and
carriers filter bursts, so the limit is per sender, not per worker, and it
is smooth: a generic cell rate algorithm (GCRA) gives each token a moment
of its own, one interval (1 / rate) after the one before. A sender that
fell behind may run ahead of that pace by at most `SEND_RATE_BURST_SECONDS`,
so a fast sender can hand the provider a small group at once while any
second still holds at most rate × (1 + burst) + 1 texts (rate + 1 below
20 a second with the default 0.05 s). Unused time is never saved up into a
burst. The state is one number in Redis (the theoretical arrival time of
the next token), updated by one Lua script so taking tokens is atomic, on
Redis's own clock so machines with skewed clocks still share one pace. A
provider asking us to slow down (429, 5xx) pauses the sender for everyone.
"""

import time
from dataclasses import dataclass

from django.conf import settings

from .coordination import key, redis_client

# KEYS: bucket, pause. ARGV: interval ms, burst tolerance ms, tokens wanted, optional clock (ms; tests).
# Returns {tokens granted, ms to wait when none, the moment of the grant in ms}.
_TAKE = """
local now
if ARGV[4] and ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {0, paused, now} end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allowed = math.floor((now + tolerance - tat) / interval) + 1
if allowed < 1 then return {0, math.ceil(tat - tolerance - now), now} end
local granted = math.min(want, allowed)
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now + tolerance) + 1000)
return {granted, 0, now}
"""
_script = None


@dataclass(frozen=True)
class Grant:
    tokens: int  # how many sends may go now (0: none yet)
    wait_ms: int  # when none: how long until the next one
    at_ms: int  # the bucket's clock at this answer (Redis time, or the clock a test passed)


def sender_key() -> str:
    return settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER or f"backend-{settings.SMS_BACKEND}"


def _take_script():
    global _script
    if _script is None:
        _script = redis_client().register_script(_TAKE)
    return _script


def throttle_take(sender: str, rate: float, *, want: int = 1, now_ms: int | None = None) -> Grant:
    """Take up to `want` tokens for `sender` if the pace allows any now; else say how long until it does.

    `now_ms` replaces Redis's clock, for tests that drive time themselves.
    """
    if rate <= 0:
        # Unlimited, but a provider's push-back still pauses everyone.
        paused = max(0, int(redis_client().pttl(key("pause", sender))))
        return Grant(0 if paused else want, paused, now_ms or 0)
    interval = 1000.0 / rate
    tolerance = max(0.0, settings.SEND_RATE_BURST_SECONDS * 1000.0)
    granted, wait, at = _take_script()(
        keys=[key("bucket", sender), key("pause", sender)],
        args=[interval, tolerance, max(1, want), "" if now_ms is None else now_ms],
    )
    return Grant(int(granted), max(0, int(wait)), int(at))


def throttle_acquire(
    sender: str, rate: float, *, want: int = 1, should_stop=lambda: False, max_sleep: float = 0.5
) -> int:
    """Block until at least one token is taken; return how many (up to `want`), or 0 when `should_stop()`.

    Send what was granted right away: tokens are moments, and sending them later bunches them up.
    """
    while True:
        grant = throttle_take(sender, rate, want=want)
        if grant.tokens:
            return grant.tokens
        if should_stop():
            return 0
        time.sleep(min(max(grant.wait_ms, 1) / 1000, max_sleep))


def throttle_slow_down(sender: str, seconds: float) -> None:
    """The provider pushed back: nobody sends from `sender` for `seconds`."""
    if seconds > 0:
        redis_client().set(key("pause", sender), 1, px=int(seconds * 1000))
