"""`GET /healthz`: 200 `ok` when the database and Redis answer, else 503."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "not healthy"; the log says which
        log.exception("healthz: database check failed")
        return False


def _redis_answers() -> bool:
    try:
        client = cache._cache.get_client(write=True)  # the cache's own Redis connection
        return bool(client.ping())
    except Exception:
        log.exception("healthz: redis check failed")
        return False


@never_cache
@require_GET
def healthz(request):
    failing = [name for name, ok in (("database", _database_answers()), ("redis", _redis_answers())) if not ok]
    if failing:
        return HttpResponse("unavailable: " + ", ".join(failing), status=503, content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
