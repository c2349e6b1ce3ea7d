"""The Content-Security-Policy fits every page: staff and the public use them in Chromium with no violation."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from campaigns.models import Campaign, CampaignStatus
from campaigns.tests.test_admin import PASSWORD
from campaigns.tests.test_admin_browser import login
from contacts.models import ConsentMethod
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from testing.browser import DESKTOP, PHONE, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

class Violations:
    """CSP violations, script errors and failed loads a page had while the steps ran."""

    def __init__(self, page, *, expected_statuses=()):
        self.seen = []
        # Chromium reports a failed load without its address; the response event below names it.
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"uncaught: {error}"))
        page.on("requestfailed", lambda request: self.seen.append(f"failed: {request.url}"))
        page.on("response", lambda r: self._check(r, expected_statuses))
        # Playwright injects this itself, so the policy under test doesn't apply to it.
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '')));"
        )

    def _console(self, message):
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.seen.append(message.text)

    def _check(self, response, expected_statuses):
        # Browsers ask for /favicon.ico on their own; the admin has none.
        if response.status >= 400 and response.status not in expected_statuses and "/favicon.ico" not in response.url:
            self.seen.append(f"{response.status}: {response.url}")


def test_admin_pages_run_under_the_policy_with_no_violation(browser, live_server):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    program = make_program(slug="deals", brand="Acme Deals")
    contact = make_contact(first_name="Ana")
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    campaign = Campaign.objects.create(name="Spring sale", program=program, body="Hi {{ first_name }}")
    # A finished campaign, so the list shows a progress bar and its page the results.
    done = Campaign.objects.create(name="Winter sale", program=program, body="Hi", status=CampaignStatus.COMPLETED)
    OutboundMessage.objects.create(kind=MessageKind.CAMPAIGN, campaign=done, contact=contact, to=str(contact.phone),
                                   body="Hi", status=MessageStatus.DELIVERED)  # fmt: skip
    cache.clear()
    base = live_server.url
    pages = [
        ("/admin/", "SMS marketing with proof of consent"),
        ("/admin/contacts/contact/", "Select contact"),
        (f"/admin/contacts/contact/{contact.pk}/change/", "Consent history"),
        (f"/admin/contacts/contact/{contact.pk}/opt-out/", "Opt out"),
        (f"/admin/contacts/contact/{contact.pk}/opt-in/", "Record consent"),
        ("/admin/contacts/contact/import/", "Import contacts"),
        ("/admin/campaigns/campaign/", "campaign-minibar"),
        (f"/admin/campaigns/campaign/{done.pk}/change/", "Winter sale"),
        (f"/admin/campaigns/campaign/{campaign.pk}/change/", "Spring sale"),
        (f"/admin/campaigns/campaign/{campaign.pk}/send/", "Send"),
        ("/admin/campaigns/staterule/", "FL"),
        (f"/admin/contacts/program/{program.pk}/change/", "Acme Deals"),
        ("/admin/messaging/reviewitem/", "decide"),
    ]

    def visit_every_page(page):
        from playwright.sync_api import expect

        violations = Violations(page)
        login(page, live_server, "root")
        for path, text in pages:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            assert text in page.content(), path
            screenshot(page, "csp-admin" + re.sub(r"[^a-z]+", "-", path.lower()).rstrip("-"))
        # The scripts that run on these pages still work: the campaign preview fetches and fills in.
        page.goto(f"{base}/admin/campaigns/campaign/{campaign.pk}/change/")
        page.locator("#id_body").press("Control+End")
        page.locator("#id_body").press_sequentially(" and welcome", delay=5)
        expect(page.locator('[data-preview="text"]')).to_contain_text("Hi Ana and welcome")
        # The tag picker (select2 autocomplete) opens.
        page.goto(f"{base}/admin/contacts/contact/{contact.pk}/change/")
        page.locator(".select2-selection").first.click()
        page.wait_for_selector(".select2-dropdown")
        screenshot(page, "csp-admin-contact-change")
        return violations.seen

    assert browser.run(visit_every_page, viewport=DESKTOP) == []


def test_public_sign_up_and_login_lockout_pages_run_under_the_policy(browser, live_server, settings):
    make_program(slug="deals", brand="Acme Deals")
    settings.AXES_FAILURE_LIMIT = 1
    base = live_server.url

    def sign_up_then_get_locked_out(page):
        violations = Violations(page, expected_statuses=(429,))  # the lockout page answers 429
        page.goto(f"{base}/join/deals/")
        page.get_by_label("Mobile number").fill("not a number")
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="Sign up for texts").click()
        page.wait_for_load_state("networkidle")
        assert "not a phone number" in page.content()
        screenshot(page, "csp-join-error-phone")
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "nobody")
        page.fill("#id_password", "wrong")
        page.click("input[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "Too many failed logins" in page.content()
        screenshot(page, "admin-login-lockout")
        return violations.seen

    assert browser.run(sign_up_then_get_locked_out, viewport=PHONE) == []
