"""The Redis connection every process shares for coordination (leases, rate buckets, the inbound spool).

Celery and Django's cache keep their own connections to the same `REDIS_URL`.
"""

from functools import cache

import redis
from django.conf import settings


@cache
def redis_client() -> redis.Redis:
    # A short connect timeout: the webhook falls back to disk when Redis is away, and must answer Twilio in time.
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )


def redis_key(*parts) -> str:
    """A key under the cache's prefix, so deployments sharing a Redis keep apart."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "smsconsent")
    return ":".join([prefix, *map(str, parts)])
