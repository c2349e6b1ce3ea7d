"""Redis: the shared state all workers on all machines agree on (send rate, which send chains run)."""

from functools import cache

import redis
from django.conf import settings


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX", "smsconsent")


def key(*parts) -> str:
    return ":".join([_prefix(), "campaigns", *map(str, parts)])


def lease_take(name: str, seconds: int) -> bool:
    """True when nobody holds `name`; it is then ours for `seconds` (a crashed holder loses it by expiry)."""
    return bool(redis_client().set(key("lease", name), 1, nx=True, ex=max(1, seconds)))


def lease_renew(name: str, seconds: int) -> None:
    redis_client().set(key("lease", name), 1, ex=max(1, seconds))


def lease_release(name: str) -> None:
    redis_client().delete(key("lease", name))
