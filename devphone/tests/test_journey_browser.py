"""The newcomer's journey from the README, in one browser, through the development phone.

Sign up on the public page, reply YES on the phone, send a campaign from the admin, watch it
arrive on the phone without a reload, reply STOP, and find the opt-out in the contact's history.
A real web server (`live_server`) takes the phone's signed posts to `/sms/inbound/`; a real Celery
worker process sends every text with the console backend, as under `make run`.
"""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache

from campaigns.tests.factories import make_campaign
from contacts.models import ConsentKind, Contact, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.tests.factories import make_program
from messaging.models import InboundClassification, InboundMessage, MessageKind, OutboundMessage
from testing.browser import DESKTOP, admin_login, screenshot
from testing.worker import celery_processes, pytest_runtest_makereport, wait_until  # noqa: F401  (fixture, hook)

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not ON_POSTGRES, reason="worker tests run against PostgreSQL"),
]

PASSWORD = "a-long-test-password-1"
NUMBER, E164 = "(415) 555-0188", "+14155550188"
CAMPAIGN_BODY = "Hi {{ first_name|default:'there' }}, 20% off everything this weekend at Acme."


@pytest.fixture
def demo(settings, live_server, celery_processes, phone_settings):  # noqa: F811  (the fixture imported above)
    """What `make run` starts: the demo program and campaign, an admin, a worker printing texts to its console."""
    settings.PUBLIC_BASE_URL = live_server.url
    cache.clear()  # sign-up rate limits from earlier tests
    worker = celery_processes.worker(
        "phone", SMS_BACKEND="console", QUIET_HOURS_ENABLED="0", SEND_RATE_PER_SECOND="0", CAMPAIGNS_TICK_SECONDS="1"
    )
    program = make_program(slug="deals", double_opt_in=True)
    campaign = make_campaign(program, name="Spring sale (demo)", body=CAMPAIGN_BODY)
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    yield {"url": live_server.url, "program": program, "campaign": campaign, "worker": worker}
    cache.clear()


def test_sign_up_yes_campaign_stop_and_the_opt_out_in_history_through_the_phone(browser, demo):
    from playwright.sync_api import expect

    url, program = demo["url"], demo["program"]

    def sign_up(page):
        page.goto(f"{url}/join/deals/")
        page.fill("input[name=phone]", NUMBER)
        page.fill("input[name=first_name]", "Nia")
        page.check("input[name=consent]")
        screenshot(page, "journey-1-sign-up")
        page.get_by_role("button", name="Sign up for texts").click()
        page.wait_for_url(f"{url}/join/deals/thanks/")
        screenshot(page, "journey-2-thanks")

    browser.run(sign_up)
    contact = Contact.objects.get(phone=E164)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.PENDING

    def reply_yes(page):
        admin_login(page, url, "admin", PASSWORD, "/admin/phone/")
        expect(page.get_by_role("link", name=E164)).to_be_visible()  # the newest contacts, one tap away
        screenshot(page, "phone-pick-a-number")
        page.fill("#devphone-number", NUMBER)
        page.get_by_role("button", name="Open").click()
        request = page.locator(".devphone-msg--out", has_text="Reply YES to confirm")
        expect(request).to_contain_text("Reply YES to confirm")
        # Sent by the worker: the status moves on in place, without a reload.
        expect(request).to_have_attribute("data-status", "sent", timeout=30_000)
        screenshot(page, "journey-3-phone-reply-yes-request")
        page.get_by_role("button", name="YES", exact=True).click()
        expect(page.locator(".devphone-msg--in")).to_have_text(re.compile("YES"))
        expect(page.locator(".devphone-msg--out", has_text="You're subscribed")).to_be_visible()
        expect(page.locator("#devphone-status")).to_have_text("Sent “YES”.")
        screenshot(page, "journey-4-phone-after-yes")

    browser.run(reply_yes)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE

    def campaign_arrives_then_stop(page):
        admin_login(page, url, "admin", PASSWORD, "/admin/phone/?number=%2B14155550188")
        phone = page
        expect(phone.locator("#devphone-number")).to_have_value(E164)
        expect(phone.locator(".devphone-msg")).to_have_count(3)
        admin = page.context.new_page()
        admin.set_viewport_size(DESKTOP)
        admin.goto(f"{url}/admin/campaigns/campaign/{demo['campaign'].pk}/change/")
        admin.get_by_role("button", name="Send now").click()  # saves the form, then asks to confirm
        screenshot(admin, "journey-5-campaign-confirm")
        admin.get_by_role("button", name=re.compile("Yes, send")).click()
        # Close the tab only once the answer has loaded: Chromium can acknowledge a close that races a
        # navigation's commit without closing the tab, and Playwright then waits for it forever.
        expect(admin.locator(".messagelist")).to_contain_text("Sending started.")
        admin.close()
        # The phone page was never reloaded: the worker's text appears by itself.
        campaign_text = phone.locator('.devphone-msg[data-kind="campaign"]')
        expect(campaign_text).to_contain_text("Hi Nia, 20% off everything this weekend", timeout=30_000)
        expect(campaign_text).to_have_attribute("data-status", "sent", timeout=30_000)
        screenshot(phone, "journey-6-phone-campaign-received")
        phone.fill("#devphone-body", "Stop texting me please")
        phone.get_by_role("button", name="Send", exact=True).click()
        expect(phone.locator(".devphone-msg--out").last).to_contain_text("unsubscribed")
        screenshot(phone, "journey-7-phone-after-stop")
        phone.get_by_role("link", name="Contact and consent history").click()
        history = phone.locator("text=Consent history (ledger, newest first)")
        expect(history).to_be_visible()
        phone.set_viewport_size(DESKTOP)
        screenshot(phone, "journey-8-contact-history")
        return phone.locator("body").inner_text()

    contact_page = browser.run(campaign_arrives_then_stop)

    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    latest = contact.consent_events.order_by("-id").first()
    assert latest.kind == ConsentKind.OPT_OUT and latest.evidence["body"] == "Stop texting me please"
    assert "Opted out" in contact_page and "Stop texting me please" in contact_page
    replies = InboundMessage.objects.filter(from_number=E164).order_by("id").values_list("classification", flat=True)
    assert list(replies) == [InboundClassification.OPT_IN, InboundClassification.OPT_OUT]
    texts = OutboundMessage.objects.filter(contact=contact)
    assert texts.filter(body__startswith="Acme Deals: Reply YES to confirm").count() == 1
    assert texts.filter(kind=MessageKind.CAMPAIGN).count() == 1
    # Each text the worker "sent" stands on a line of its own, with the number and the body.
    assert re.search(rf"^SMS to \{E164}: Acme Deals: Hi Nia, 20% off everything", demo["worker"].log(), re.MULTILINE)
