"""A marketing user builds, previews and sends a campaign in a real browser and watches it finish.

Chromium (Debian's) drives the admin served by `live_server`; the send goes
through the engine, in a real Celery worker process, to the local Twilio fake
over real HTTP.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignStatus
from campaigns.tasks import campaigns_start_due
from campaigns.tests.test_admin import MARKETING, PASSWORD, SUPPORT, make_staff, opted_in
from contacts.models import ConsentMethod, Tag
from contacts.services import consent_opt_out
from contacts.tests.factories import make_program
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from testing.browser import DESKTOP, admin_login, screenshot

# Serialized rollback, like every live-server and worker test: the migrations' seed data (roles, keywords,
# state rules) is put back after each flush, so tests after these find it.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDE = {"width": 1366, "height": 900}
BODY = "Hi {{ first_name|default:'there' }}, our spring sale starts today: 20% off every jacket."


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


@pytest.fixture
def draft():
    """A draft campaign of the Acme Deals program, which has one subscriber, Ana."""
    program = make_program(brand="Acme Deals")
    opted_in(program, first_name="Ana")
    return Campaign.objects.create(name="Spring sale", program=program, body=BODY)


def start_a_campaign(page, live_server, program, name):
    """The add page with a name and program chosen; returns the preview panel."""
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", name)
    page.select_option("#id_program", str(program.pk))
    return page.locator("#campaign-preview")


def login(page, live_server, username):
    admin_login(page, live_server.url, username, PASSWORD)


def test_marketing_user_builds_previews_sends_and_watches_the_campaign_complete(browser, live_server, sending):
    from playwright.sync_api import expect

    program = make_program(brand="Acme Deals", name="Weekly offers")
    recipients = [opted_in(program, first_name=name) for name in ("Ana", "Ben", "Cy")]
    gone = opted_in(program, first_name="Dee")
    consent_opt_out(contact=gone, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    make_staff("mia", MARKETING)

    def build_preview_send_and_watch(page):
        login(page, live_server, "mia")
        # Build: the preview follows the typing.
        preview = start_a_campaign(page, live_server, program, "Spring sale")
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
        expect(preview.locator('[data-preview="sendable"]')).to_have_text("3")
        screenshot(page, "campaign-change-with-preview")

        # Send through the confirmation page, which repeats audience and cost.
        page.get_by_role("button", name="Send now").click()
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

    browser.run(build_preview_send_and_watch, viewport=WIDE)
    campaign = Campaign.objects.get(name="Spring sale")

    # Delivery receipts arrive afterwards through the signed status callback; the results follow them.
    sids = [m["sid"] for m in sending.messages()]
    for sid in sids[:2]:
        assert sending.post_status_callback(f"{live_server.url}/sms/status/", sid, "delivered").status_code == 200
    sending.post_status_callback(f"{live_server.url}/sms/status/", sids[2], "undelivered", error_code=30003)

    def watch_the_results(page):
        login(page, live_server, "mia")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
        progress = page.locator("#campaign-progress")
        expect(progress.locator('[data-count="delivered"]')).to_have_text("2")
        expect(progress.locator('[data-count="failed"]')).to_have_text("1")
        expect(progress.locator(".campaign-chart__row")).to_have_count(8)
        screenshot(page, "campaign-progress-complete")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/")
        expect(page.locator(".campaign-minibar")).to_have_count(1)
        screenshot(page, "campaign-list")

    browser.run(watch_the_results, viewport=WIDE)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    texted = sorted(m["to"] for m in sending.messages())
    assert texted == sorted(str(c.phone) for c in recipients)  # the opted-out contact got nothing
    assert all(m["body"].startswith("Acme Deals: Hi ") for m in sending.messages())


def test_support_agent_sees_the_campaign_but_cannot_send_it(browser, live_server, sending, draft):
    campaign = draft
    make_staff("sam", SUPPORT)

    def look_and_try_to_send(page):
        login(page, live_server, "sam")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
        buttons = tuple(
            page.get_by_role("link", name=name).count() + page.get_by_role("button", name=name).count()
            for name in ("Send now", "Schedule")
        )
        response = page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/send/")
        return buttons, response.status

    assert browser.run(look_and_try_to_send) == ((0, 0), 403)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert sending.messages() == []


# --- the marketer's first-campaign bugs ------------------------------------------------------------------


def test_preview_with_a_tag_chosen_counts_what_the_confirmation_page_counts(browser, live_server, settings):
    settings.SMS_PRICE_PER_SEGMENT = 0.0083
    cache.clear()
    program = make_program(brand="Acme Deals")
    vip = Tag.objects.create(name="VIP")
    Tag.objects.create(name="NEWSLETTER")
    for index in range(7):
        contact = opted_in(program, first_name=f"Contact{index}")
        if index < 2:
            contact.tags.add(vip)
    make_staff("mia", MARKETING)

    def choose_a_tag_and_compare(page):
        from playwright.sync_api import expect

        login(page, live_server, "mia")
        preview = start_a_campaign(page, live_server, program, "VIP preview")
        page.fill("#id_body", "Hi {{ first_name }}, early access for you.")
        expect(preview.locator('[data-preview="sendable"]')).to_have_text("7")
        # The admin's tag picker: pick VIP in "Available tags" and move it to "Chosen tags".
        page.select_option("#id_tags_from", label="VIP")
        page.click("#id_tags_add")
        expect(page.locator("#id_tags_to option")).to_have_count(1)
        expect(preview.locator('[data-preview="sendable"]')).to_have_text("2")
        previewed = (preview.locator('[data-preview="sendable"]').inner_text(),
                     preview.locator('[data-preview="cost"]').inner_text())  # fmt: skip
        screenshot(page, "campaign-preview-with-tag")

        page.click("input[name=_continue]")
        page.wait_for_url(re.compile(r"/change/$"))
        expect(preview.locator('[data-preview="sendable"]')).to_have_text("2")
        page.get_by_role("button", name="Send now").click()
        page.wait_for_url(re.compile(r"/send/$"))
        confirmed = (page.locator('[data-confirm="sendable"]').inner_text(),
                     page.locator('[data-confirm="cost"]').inner_text())  # fmt: skip
        screenshot(page, "campaign-confirm-send-with-tag")
        return previewed, confirmed

    previewed, confirmed = browser.run(choose_a_tag_and_compare, viewport=WIDE)
    assert previewed == confirmed == ("2", "0.02 USD")


def test_a_past_send_at_never_sends_without_the_confirmation_page(browser, live_server, settings, draft):
    settings.STAFF_TIME_ZONE = "America/Chicago"
    campaign = draft
    tomorrow = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    services.campaign_schedule(campaign=campaign, send_at=tomorrow, actor=None)
    make_staff("mia", MARKETING)
    past = timezone.localtime(timezone.now() - timedelta(hours=2), timezone.get_fixed_timezone(-360))

    def try_a_past_time(page):
        from playwright.sync_api import expect

        login(page, live_server, "mia")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
        seen = {"send_at_inputs": page.locator("[name=send_at]").count()}
        seen["label"] = page.locator(".fieldset-heading + .description").last.inner_text()
        screenshot(page, "campaign-change-scheduled")
        # What the old form posted: a send_at in the past. Saving it must schedule nothing.
        page.evaluate(
            """(value) => { const i = document.createElement('input'); i.type = 'hidden'; i.name = 'send_at';
               i.value = value; document.getElementById('campaign_form').append(i); }""",
            past.strftime("%Y-%m-%d %H:%M"),
        )
        page.click("input[name=_continue]")
        page.wait_for_url(re.compile(r"/change/$"))
        # The only way to a time is the confirmation page, which refuses the past.
        page.get_by_role("button", name="Reschedule").click()
        page.wait_for_url(re.compile(r"/schedule/$"))
        seen["schedule_label"] = page.locator("label[for=id_send_at]").inner_text()
        page.fill("#id_send_at", past.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name=re.compile("Schedule for 1 contact")).click()
        expect(page.locator(".errorlist")).to_contain_text("Pick a time in the future")
        screenshot(page, "campaign-schedule-refuses-the-past")
        return seen

    seen = browser.run(try_a_past_time, viewport=WIDE)
    campaigns_start_due()  # what beat runs every few seconds
    campaign.refresh_from_db()
    assert seen["send_at_inputs"] == 0
    assert seen["label"] == "Times are in America/Chicago (the site's time zone)."
    assert seen["schedule_label"] == "Send at, America/Chicago (the site's time zone)"
    assert (campaign.status, campaign.send_at) == (CampaignStatus.SCHEDULED, tomorrow)
    assert not OutboundMessage.objects.filter(campaign=campaign).exists()


def test_unsaved_edits_survive_send_now(browser, live_server, draft):
    campaign = draft
    make_staff("mia", MARKETING)

    def edit_then_send_now(page):
        login(page, live_server, "mia")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
        page.fill("#id_body", "Hi {{ first_name }}, the sale now ends on Sunday.")
        page.get_by_role("button", name="Send now").click()
        page.wait_for_url(re.compile(r"/send/$"))
        return page.locator(".campaign-bubble").inner_text()

    bubble = browser.run(edit_then_send_now, viewport=WIDE)
    campaign.refresh_from_db()
    assert "the sale now ends on Sunday" in bubble
    assert campaign.body == "Hi {{ first_name }}, the sale now ends on Sunday."
    assert campaign.status == CampaignStatus.DRAFT  # the confirmation page still decides


def test_empty_campaign_preview_asks_for_a_message_without_an_error(browser, live_server, draft):
    program = draft.program
    make_staff("mia", MARKETING)

    def open_a_new_campaign(page):
        from playwright.sync_api import expect

        login(page, live_server, "mia")
        preview = start_a_campaign(page, live_server, program, "")
        expect(preview.locator('[data-preview="sendable"]')).to_have_text("1")
        screenshot(page, "campaign-add-empty-preview")
        errors = preview.locator('[data-preview="errors"]')
        return errors.is_visible(), preview.locator('[data-preview="text"]').inner_text()

    errors_visible, text = browser.run(open_a_new_campaign, viewport=WIDE)
    assert not errors_visible
    assert text == "Type the message to see it as people will receive it."


def test_campaign_list_fits_a_1280_pixel_screen(browser, live_server):
    program = make_program(brand="Acme Deals", name="Weekly offers for our most loyal customers")
    mia = make_staff("marketing.lead.with.a.long.name", MARKETING)
    contact = opted_in(program)
    now = timezone.now()
    for status in CampaignStatus.values:
        campaign = Campaign.objects.create(
            name=f"Spring clearance: every jacket and coat 20% off ({status})", program=program, body=BODY,
            status=status, send_at=now + timedelta(days=1), started_at=now, completed_at=now, created_by=mia,
        )  # fmt: skip
        OutboundMessage.objects.create(kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact,
                                       to=str(contact.phone), status=MessageStatus.DELIVERED)  # fmt: skip

    def look(page):
        login(page, live_server, "marketing.lead.with.a.long.name")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/")
        screenshot(page, "campaign-list-1280")
        return page.evaluate(
            """() => { const r = document.querySelector('#changelist .results');
               return [r.scrollWidth, r.clientWidth, document.documentElement.scrollWidth]; }"""
        )

    results_scroll, results_client, page_scroll = browser.run(look, viewport=DESKTOP)
    assert results_scroll <= results_client
    assert page_scroll <= DESKTOP["width"]


def test_the_tag_picker_fits_beside_the_preview_on_a_1280_pixel_screen(browser, live_server, draft):
    """The picker with its add link sits inside the form column, with the admin's side menu open."""
    Tag.objects.create(name="vip")
    make_staff("mia", MARKETING)

    def look(page):
        login(page, live_server, "mia")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{draft.pk}/change/")
        row = page.locator(".form-row.field-tags")
        row.locator(".selector-chosen").wait_for()
        screenshot(page, "campaign-change-1280")
        return page.evaluate(
            """() => { const row = document.querySelector('.form-row.field-tags').getBoundingClientRect();
               const right = (selector) => document.querySelector(selector).getBoundingClientRect().right;
               return [row.right, right('.field-tags .selector-chosen'),
                       right('.field-tags .related-widget-wrapper-link'),
                       document.querySelector('#nav-sidebar').getBoundingClientRect().width]; }"""
        )

    row_right, chosen_right, add_link_right, side_menu = browser.run(look, viewport=DESKTOP)
    assert side_menu > 0
    assert chosen_right <= row_right and add_link_right <= row_right


def test_staff_pick_their_own_time_zone_and_the_schedule_page_follows(browser, live_server, settings, draft):
    settings.STAFF_TIME_ZONE = "America/New_York"
    campaign = draft
    make_staff("mia", MARKETING)

    def choose_a_zone_then_schedule(page):
        login(page, live_server, "mia")
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/schedule/")
        before = page.locator("label[for=id_send_at]").inner_text()
        page.get_by_role("link", name="My time zone").first.click()
        page.select_option("#id_time_zone", "America/Los_Angeles")
        screenshot(page, "staff-time-zone")
        page.get_by_role("button", name="Save", exact=True).click()
        page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/schedule/")
        after = page.locator("label[for=id_send_at]").inner_text()
        page.fill("#id_send_at", "2031-07-04T09:00")
        page.get_by_role("button", name=re.compile("Schedule for 1 contact")).click()
        page.wait_for_url(re.compile(r"/change/$"))
        return before, after, page.locator(".messagelist").inner_text()

    before, after, message = browser.run(choose_a_zone_then_schedule, viewport=WIDE)
    campaign.refresh_from_db()
    assert before == "Send at, America/New_York (the site's time zone)"
    assert after == "Send at, America/Los_Angeles (your time zone)"
    assert "America/Los_Angeles (your time zone)" in message
    assert campaign.send_at == datetime(2031, 7, 4, 16, 0, tzinfo=UTC)  # 09:00 in Los Angeles (PDT, UTC-7)
