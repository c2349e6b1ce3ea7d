"""A marketing user builds, previews and sends a campaign in a real browser and watches it finish.

Chromium (Debian's) drives the admin served by `live_server`; the send goes
through the engine, in a real Celery worker process, to the local Twilio fake
over real HTTP.
"""

import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache

from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.test_admin import MARKETING, PASSWORD, SUPPORT, make_staff, opted_in
from contacts.models import ConsentMethod
from contacts.services import consent_opt_out
from contacts.tests.factories import make_program

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
BODY = "Hi {{ first_name|default:'there' }}, our spring sale starts today: 20% off every jacket."


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes are still sync.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def sending(settings, fake_twilio, celery_processes, live_server):
    """A real Celery worker process sending to the Twilio fake, one text per second like a US long code."""
    settings.PUBLIC_BASE_URL = live_server.url  # where status callbacks go, and the URL their signatures cover
    settings.SMS_PRICE_PER_SEGMENT = 0.01
    settings.SMS_PRICE_CURRENCY = "USD"
    # Quiet hours off: the test must pass at any hour of the day (they have their own tests).
    celery_processes.worker("admin-w1", fake=fake_twilio, QUIET_HOURS_ENABLED="0", SEND_RATE_PER_SECOND="1")
    cache.clear()
    yield fake_twilio
    cache.clear()


def login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_marketing_user_builds_previews_sends_and_watches_the_campaign_complete(browser, live_server, sending):
    from playwright.sync_api import expect

    program = make_program(brand="Acme Deals", name="Weekly offers")
    recipients = [opted_in(program, first_name=name) for name in ("Ana", "Ben", "Cy")]
    gone = opted_in(program, first_name="Dee")
    consent_opt_out(contact=gone, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    make_staff("mia", MARKETING)

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    login(page, live_server, "mia")

    # Build: the preview follows the typing.
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Spring sale")
    page.select_option("#id_program", str(program.pk))
    preview = page.locator("#campaign-preview")
    page.locator("#id_body").press_sequentially(BODY, delay=5)
    expect(preview.locator('[data-preview="sendable"]')).to_have_text("3")
    expect(preview.locator('[data-preview="total"]')).to_have_text("4")
    expect(preview.locator('[data-reason="opted_out"] td')).to_have_text("1")
    expect(preview.locator('[data-preview="encoding"]')).to_have_text("GSM-7")
    expect(preview.locator('[data-preview="segments"]')).to_have_text("1")
    expect(preview.locator('[data-preview="cost"]')).to_have_text("0.03 USD")
    expect(preview.locator('[data-preview="text"]')).to_contain_text("Acme Deals: Hi Ana, our spring sale")
    expect(preview.locator('[data-preview="text"]')).to_contain_text("Reply STOP to opt out")

    # One emoji turns the whole text into UCS-2 and the preview says which character did it.
    page.locator("#id_body").press("End")
    page.locator("#id_body").press_sequentially(" 🧥")
    expect(preview.locator('[data-preview="encoding"]')).to_have_text("UCS-2")
    expect(preview.locator('[data-preview="non-gsm"]')).to_contain_text("🧥")
    expect(preview.locator('[data-preview="segments"]')).to_have_text("2")
    expect(preview.locator('[data-preview="cost"]')).to_have_text("0.06 USD")
    screenshot(page, "campaign-preview-ucs2")
    page.locator("#id_body").fill(BODY)
    expect(preview.locator('[data-preview="encoding"]')).to_have_text("GSM-7")

    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/change/$"))
    campaign = Campaign.objects.get(name="Spring sale")
    expect(preview.locator('[data-preview="sendable"]')).to_have_text("3")
    screenshot(page, "campaign-change-with-preview")

    # Send through the confirmation page, which repeats audience and cost.
    page.get_by_role("link", name="Send now").click()
    expect(page.locator('[data-confirm="sendable"]')).to_have_text("3")
    expect(page.locator('[data-confirm="cost"]')).to_have_text("0.03 USD")
    screenshot(page, "campaign-confirm-send")
    page.get_by_role("button", name=re.compile("Yes, send to 3 contacts")).click()

    # Progress reaches completion on the change page.
    progress = page.locator("#campaign-progress")
    expect(progress.locator('[data-progress="status"]')).to_have_text("Completed", timeout=30_000)
    expect(progress.locator('[data-progress="percent"]')).to_have_text("100%")
    expect(progress.locator('[data-progress="results"]')).to_be_visible()
    expect(progress.locator('[data-count="queued"]')).to_have_text("3")

    # Delivery receipts arrive afterwards through the signed status callback; the results follow them.
    sids = [m["sid"] for m in sending.messages()]
    for sid in sids[:2]:
        assert sending.post_status_callback(f"{live_server.url}/sms/status/", sid, "delivered").status_code == 200
    sending.post_status_callback(f"{live_server.url}/sms/status/", sids[2], "undelivered", error_code=30003)
    page.reload()
    expect(progress.locator('[data-count="delivered"]')).to_have_text("2")
    expect(progress.locator('[data-count="failed"]')).to_have_text("1")
    expect(progress.locator(".campaign-chart__row")).to_have_count(8)
    screenshot(page, "campaign-progress-complete")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/")
    expect(page.locator(".campaign-minibar")).to_have_count(1)
    screenshot(page, "campaign-list")
    context.close()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    texted = sorted(m["to"] for m in sending.messages())
    assert texted == sorted(str(c.phone) for c in recipients)  # the opted-out contact got nothing
    assert all(m["body"].startswith("Acme Deals: Hi ") for m in sending.messages())


def test_support_agent_sees_the_campaign_but_cannot_send_it(browser, live_server, sending):
    program = make_program()
    opted_in(program, first_name="Ana")
    campaign = Campaign.objects.create(name="Spring sale", program=program, body=BODY)
    make_staff("sam", SUPPORT)

    context = browser.new_context()
    page = context.new_page()
    login(page, live_server, "sam")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.get_by_role("link", name="Send now").count() == 0
    assert page.get_by_role("link", name="Schedule").count() == 0
    response = page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/send/")
    assert response.status == 403
    context.close()

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert sending.messages() == []
