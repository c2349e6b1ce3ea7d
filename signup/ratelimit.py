"""Fixed-window rate limits counted in the Django cache (Redis), shared by every web process.

A fixed window lets a burst of up to twice the limit straddle a window edge;
that is fine for slowing bots and text-bombing, and it costs one atomic INCR.
"""

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def rate_parse(value: str) -> Rate:
    """ "10/h" → 10 per hour; "5/10m" → 5 per 10 minutes. "0/h" disables the limit."""
    try:
        count, period = value.strip().split("/")
        multiplier, unit = (period[:-1] or "1"), period[-1].lower()
        return Rate(count=int(count), seconds=int(multiplier) * _PERIODS[unit])
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"Rate limit {value!r} is not like '10/h' (units s, m, h, d).") from None


def rate_limit_exceeded(*, scope: str, key: str, rate: str) -> bool:
    """Count one hit for `key` and say whether it went over the limit in the current window."""
    limit = rate_parse(rate)
    if limit.count <= 0:
        return False
    window = int(time.time() // limit.seconds)
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    # add() only sets a missing key, so concurrent first hits can't reset each other's counts.
    cache.add(cache_key, 0, timeout=limit.seconds + 1)
    try:
        hits = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.add(cache_key, 1, timeout=limit.seconds + 1)
        hits = 1
    return hits > limit.count
