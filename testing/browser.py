"""Debian's Chromium driven by Playwright from a thread of its own.

Playwright's sync API keeps an event loop running in the thread that uses
it. Django then treats that thread as async: its database connections become
per-context, and the test's own connection is lost to the test machinery
(flushes run on a fresh connection and recreate content types). Keeping
the browser in its own thread leaves the test thread an ordinary sync
thread, so the ORM and the test database behave as in any other test.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
]  # fmt: skip
# How long auto-waiting actions and `expect` assertions wait for what they wait for: they return as soon as
# it happens, so a generous bound costs nothing on an idle machine and keeps a busy one from failing.
WAIT_MS = 30_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class BrowserThread:
    def __init__(self):
        # One worker: Playwright objects must stay in the thread that made them.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._playwright = None
        self._browser = None
        self._executor.submit(self._start).result()

    def _start(self):
        from playwright.sync_api import expect, sync_playwright

        expect.set_options(timeout=WAIT_MS)
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )

    def _stop(self):
        self._browser.close()
        self._playwright.stop()

    def close(self):
        self._executor.submit(self._stop).result()
        self._executor.shutdown()

    def run(self, steps, *, viewport=PHONE, locale="en-US"):
        """Run `steps(page)` in a fresh browser context; return what it returns (exceptions propagate)."""

        def in_browser():
            context = self._browser.new_context(viewport=viewport, locale=locale)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            try:
                return steps(page)
            finally:
                context.close()

        return self._executor.submit(in_browser).result(timeout=120)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser():
    """One Chromium for a test module, driven from its own thread (see the module docstring)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: `make test` installs it (scripts/ensure-chromium.sh)")
    thread = BrowserThread()
    yield thread
    thread.close()
