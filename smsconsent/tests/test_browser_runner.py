"""The browser tests' runner: a step that never returns fails in bounded time and says where it was stuck."""

import threading

import pytest

pytestmark = pytest.mark.browser


def test_a_browser_step_that_overruns_fails_naming_the_call_it_was_stuck_in(browser, monkeypatch):
    monkeypatch.setattr("testing.browser.STEPS_TIMEOUT", 0.5)
    release = threading.Event()

    def waits_for_a_page_that_never_comes(page):
        release.wait(60)

    try:
        with pytest.raises(TimeoutError, match=r"(?s)ran past 0\.5s.*waits_for_a_page_that_never_comes"):
            browser.run(waits_for_a_page_that_never_comes)
    finally:
        release.set()  # the browser thread goes on to close the context
