"""Debian's Chromium driven by Playwright from a thread of its own.

Playwright's sync API keeps an event loop running in the thread that uses
it. Django then treats that thread as async: its database connections become
per-context, and the test's own connection is lost to the test machinery
(flushes run on a fresh connection and recreate content types). Keeping
the browser in its own thread leaves the test thread an ordinary sync
thread, so the ORM and the test database behave as in any other test.
"""

import queue
import sys
import threading
import traceback
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
]  # fmt: skip
# How long auto-waiting actions and `expect` assertions wait for what they wait for: they return as soon as
# it happens, so a generous bound costs nothing on an idle machine and keeps a busy one from failing.
WAIT_MS = 30_000
# Bounds on a whole launch or close of Chromium, and on one `run` of steps (each of which waits at most WAIT_MS).
START_TIMEOUT, STEPS_TIMEOUT = 120, 300
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


class BrowserThread:
    """Runs callables one at a time in one daemon thread: Playwright objects must stay in the thread that made them.

    A daemon thread, not a ThreadPoolExecutor: if Chromium ever wedges, the executor's thread would be
    joined at interpreter exit and hold the whole test run; every wait here is bounded instead.
    """

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="chromium", daemon=True)
        self._thread.start()
        self._playwright = None
        self._browser = None
        self._call(self._start, timeout=START_TIMEOUT)

    def _serve(self):
        while (job := self._jobs.get()) is not None:
            work, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as error:  # handed to the caller, who re-raises it
                    future.set_exception(error)

    def _call(self, work, *, timeout: float):
        future = Future()
        self._jobs.put((work, future))
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise TimeoutError(f"the browser's steps ran past {timeout}s; they were at:\n{self._where()}") from None

    def _where(self) -> str:
        """The browser thread's stack right now: which step, and which Playwright call, never returned."""
        frame = sys._current_frames().get(self._thread.ident)
        return "".join(traceback.format_stack(frame)) if frame else "(the browser thread has ended)"

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
        try:
            self._call(self._stop, timeout=START_TIMEOUT)
        finally:
            self._jobs.put(None)

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

        return self._call(in_browser, timeout=STEPS_TIMEOUT)


def admin_login(page, base_url: str, username: str, password: str, next_path: str = "/admin/") -> None:
    """Log in through the admin's own login form and wait until `next_path` has loaded."""
    page.goto(f"{base_url}/admin/login/?next={quote(next_path)}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(next_path).path)


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
