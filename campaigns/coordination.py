"""Redis: the shared state all workers on all machines agree on (send rate, which send chains run)."""

from smsconsent.redis import redis_client, redis_key


def key(*parts) -> str:
    return redis_key("campaigns", *parts)


def lease_take(name: str, seconds: int) -> bool:
    """True when nobody holds `name`; it is then ours for `seconds` (a crashed holder loses it by expiry)."""
    return bool(redis_client().set(key("lease", name), 1, nx=True, ex=max(1, seconds)))


def lease_renew(name: str, seconds: int) -> None:
    redis_client().set(key("lease", name), 1, ex=max(1, seconds))


def lease_release(name: str) -> None:
    redis_client().delete(key("lease", name))
