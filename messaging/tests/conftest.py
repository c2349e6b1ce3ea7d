import pytest
from django.db import connection

from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture, for every messaging test)
from testing.ports import free_port
from testing.tcp_proxy import TcpProxy
from testing.worker import celery_processes, database_url, pytest_runtest_makereport  # noqa: F401  (fixture, hook)


@pytest.fixture(autouse=True)
def _fresh_keyword_cache(request):
    """Keyword lists are cached in Redis, which outlives each test's database rollback."""
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(request.fixturenames)
    if not uses_db:
        yield
        return
    from messaging.selectors import keywords_cache_clear

    keywords_cache_clear()
    yield
    keywords_cache_clear()


def pytest_terminal_summary(terminalreporter):
    """`make test` prints the labelled corpus's scores (messaging/tests/test_corpus.py) and the inbound load."""
    from messaging.tests.test_corpus import SCORES
    from messaging.tests.test_load import REPORT

    for title, lines in (("reply corpus scores", SCORES), ("inbound load", REPORT)):
        if lines:
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line)


@pytest.fixture
def db_proxy():
    s = connection.settings_dict
    proxy = TcpProxy((s.get("HOST") or "127.0.0.1", int(s.get("PORT") or 5432))).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def web(celery_processes, fake_twilio, db_proxy, settings):  # noqa: F811  (the fixtures imported above)
    """gunicorn on a port of its own, its database behind the proxy; PUBLIC_BASE_URL is its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings.PUBLIC_BASE_URL = url
    proxied = database_url().replace(f":{connection.settings_dict.get('PORT') or 5432}/", f":{db_proxy.port}/")

    def start(**env):
        celery_processes.web(port=port, fake=fake_twilio, DATABASE_URL=proxied, PUBLIC_BASE_URL=url, **env)
        return url

    return start
