"""What error pages and mailed error reports may show of the settings and the environment."""

from urllib.parse import urlsplit, urlunsplit

from django.views.debug import SafeExceptionReporterFilter


def url_password_mask(value: str, substitute: str) -> str:
    """`redis://:s3cret@host:6379/0` → `redis://:********@host:6379/0`; anything else unchanged."""
    if "@" not in value or "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:  # not a URL after all (an unbalanced "[" in the host, a bad port)
        return value
    if not password:
        return value
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{substitute}@{host}"))


class UrlPasswordSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter hides settings by name (KEY, TOKEN, PASS…); a password inside a URL has no such name.

    REDIS_URL, CELERY_BROKER_URL and the cache's LOCATION carry the Redis password, and the process
    environment (shown in `request.META` under runserver) carries DATABASE_URL: mask them wherever they appear.
    """

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return url_password_mask(value, self.cleansed_substitute)
        return value
