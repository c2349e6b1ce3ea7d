import pytest

from testing.fake_twilio import fake_twilio  # noqa: F401  (the fixture, for every messaging test)
from testing.worker import celery_processes, pytest_runtest_makereport  # noqa: F401  (fixture and its hook)


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
