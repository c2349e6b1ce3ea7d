"""A token bucket per sender in Redis, shared by every worker on every machine.

Twilio queues per sender (a long code sends about one segment a second), so
the limit is per sender, not per worker. The bucket lives in one Lua script so
taking a token is atomic, and it reads Redis's own clock so machines with
skewed clocks still share one rate. A provider asking us to slow down (429,
5xx) pauses the bucket briefly for everyone.
"""

import time

from django.conf import settings

from .coordination import key, redis_client

# KEYS: bucket, pause. ARGV: rate per second, capacity.
# Returns 0 when a token was taken, else how many milliseconds to wait.
_TAKE = """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return wait
"""
_script = None


def sender_key() -> str:
    return settings.TWILIO_MESSAGING_SERVICE_SID or settings.TWILIO_FROM_NUMBER or f"backend-{settings.SMS_BACKEND}"


def _take_script():
    global _script
    if _script is None:
        _script = redis_client().register_script(_TAKE)
    return _script


def throttle_wait_ms(sender: str, rate: float) -> int:
    """Take a token for `sender` if one is free (returns 0), else say how long until one is."""
    if rate <= 0:
        # Unlimited, but a provider's push-back still pauses everyone.
        return max(0, int(redis_client().pttl(key("pause", sender))))
    capacity = max(1.0, rate)
    return int(_take_script()(keys=[key("bucket", sender), key("pause", sender)], args=[rate, capacity]))


def throttle_acquire(sender: str, rate: float, *, should_stop=lambda: False, max_sleep: float = 0.5) -> bool:
    """Block until a token is taken (True) or `should_stop()` says to give up (False)."""
    while True:
        wait = throttle_wait_ms(sender, rate)
        if wait <= 0:
            return True
        if should_stop():
            return False
        time.sleep(min(wait / 1000, max_sleep))


def throttle_slow_down(sender: str, seconds: float) -> None:
    """The provider pushed back: nobody sends from `sender` for `seconds`."""
    if seconds > 0:
        redis_client().set(key("pause", sender), 1, px=int(seconds * 1000))
