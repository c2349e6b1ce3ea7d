"""The vocabulary as stored rules: the migrations seed the tested defaults, and each process compiles them once."""

import pytest

from messaging import keywords as kw
from messaging.models import KeywordRule
from messaging.selectors import keywords_cache_clear, keywords_current

pytestmark = pytest.mark.django_db


def test_the_migrations_store_exactly_the_tested_defaults_with_their_sources():
    stored = {(r.text, r.meaning, r.match, r.language, r.source) for r in KeywordRule.objects.filter(is_active=True)}
    defaults = {(t.text, t.meaning, t.match, t.language, t.source) for t in kw.DEFAULT_TERMS}
    assert stored == defaults
    assert keywords_current().ignored == ()


def test_the_compiled_vocabulary_is_kept_per_process_until_a_rule_changes(django_assert_num_queries):
    first = keywords_current()
    with django_assert_num_queries(0):
        assert keywords_current() is first
    KeywordRule.objects.create(text="GENUG", meaning=kw.OPT_OUT)
    keywords_cache_clear()
    assert keywords_current() is not first
    assert kw.classify("genug", keywords=keywords_current()).meaning == kw.OPT_OUT


def test_a_cache_outage_never_stops_the_classifier(settings):
    # Nothing answers on port 9: every cache call fails, as when Redis is down.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}  # fmt: skip
    keywords_cache_clear()  # logs, never raises
    assert kw.classify("stop", keywords=keywords_current()).meaning == kw.OPT_OUT
    assert kw.classify("stop", keywords=keywords_current()).meaning == kw.OPT_OUT


def test_a_rule_changed_by_another_process_is_picked_up_from_the_cache_version(monkeypatch):
    from django.core.cache import cache

    from messaging import selectors

    first = keywords_current()
    KeywordRule.objects.create(text="GENUG", meaning=kw.OPT_OUT)
    assert keywords_current() is first  # this process wasn't told
    monkeypatch.setattr(selectors, "VERSION_CHECK_SECONDS", 0.0)  # as once the second has passed
    cache.incr(selectors.KEYWORDS_VERSION_KEY)  # what keywords_cache_clear() does in the other process
    assert kw.classify("genug", keywords=keywords_current()).meaning == kw.OPT_OUT
