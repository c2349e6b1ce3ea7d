"""The review queue in a real browser: what a support agent sees, and one click deciding."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from contacts.models import ConsentMethod, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.models import InboundClassification, InboundMessage, MessageKind, OutboundMessage, ReviewDecision
from messaging.roles import ROLE_PERMISSIONS
from testing.fake_twilio import new_sid

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"


@pytest.fixture
def browser_page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    # The sync API runs an event loop in this thread; the ORM calls in the test are still synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _agent() -> User:
    user = User.objects.create_user("agent", password="agent-pass-123", is_staff=True)
    for dotted in ROLE_PERMISSIONS["Support agents"]:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _queue(phone, body, keyword):
    contact = make_contact(phone)
    program = make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    offer = "Acme Deals: 20% off this weekend. Reply STOP to opt out"
    OutboundMessage.objects.create(kind=MessageKind.TEST, contact=contact, to=phone, body=offer)
    InboundMessage.objects.create(
        sid=new_sid(), from_number=phone, body=body, contact=contact, classification=InboundClassification.REVIEW,
        keyword=keyword, received_at=timezone.now(), review_decision=ReviewDecision.PENDING,
    )  # fmt: skip
    return contact, program


def test_a_support_agent_opts_out_a_reply_from_the_review_queue_with_one_click(live_server, browser_page):
    _agent()
    contact, program = _queue("+14155550191", "Not interested, thanks", "not interested")
    _queue("+14155550192", "who is this?", "who is this")
    page = browser_page
    page.goto(live_server.url + "/admin/login/?next=/admin/messaging/reviewitem/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "agent-pass-123")
    page.click("input[type=submit]")
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_selector("text=Not interested, thanks")
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

    page.click('button[aria-label="Opt out +14155550191"]')
    page.wait_for_selector("text=is opted out of every program")
    page.screenshot(path=str(ARTIFACTS / "review-queue-after-opt-out.png"), full_page=True)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert page.locator("text=Not interested, thanks").count() == 0
    assert page.locator("text=who is this?").count() == 1

    page.goto(live_server.url + "/admin/messaging/inboundmessage/")
    page.screenshot(path=str(ARTIFACTS / "inbound-messages.png"), full_page=True)
    page.goto(live_server.url + "/admin/messaging/outboundmessage/")
    page.screenshot(path=str(ARTIFACTS / "outbox.png"), full_page=True)
