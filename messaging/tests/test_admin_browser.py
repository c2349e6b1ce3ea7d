"""The review queue in a real browser: what a support agent sees, and one click deciding."""

import pytest
from django.contrib.auth.models import Permission, User

from contacts.models import ConsentMethod, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.inbound import inbound_receive
from messaging.models import InboundMessage, MessageKind, OutboundMessage
from messaging.roles import ROLE_PERMISSIONS
from testing.browser import DESKTOP, admin_login, screenshot
from testing.fake_twilio import new_sid

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _agent() -> User:
    user = User.objects.create_user("agent", password="agent-pass-123", is_staff=True)
    for dotted in ROLE_PERMISSIONS["Support agents"]:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def _queue(phone, body):
    """A subscriber answers an offer; the reply goes through the real inbound path (here: to review)."""
    contact = make_contact(phone)
    program = make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    offer = "Acme Deals: 20% off this weekend. Reply STOP to opt out"
    OutboundMessage.objects.create(kind=MessageKind.TEST, contact=contact, to=phone, body=offer)
    inbound_receive(params={"MessageSid": new_sid(), "From": phone, "Body": body})
    return contact, program


def test_a_support_agent_opts_out_a_reply_from_the_review_queue_with_one_click(live_server, browser):
    _agent()
    contact, program = _queue("+14155550191", "Stpo, thanks")
    _queue("+14155550192", "who is this?")
    _queue("+14155550193", "¿Quién habla?")
    detail = InboundMessage.objects.get(from_number="+14155550191").pk

    def opt_out_in_the_queue(page):
        admin_login(page, live_server.url, "agent", "agent-pass-123", "/admin/messaging/reviewitem/")
        page.wait_for_selector("text=Stpo, thanks")
        screenshot(page, "review-queue")
        shown = page.content()
        page.click('button[aria-label="Opt out +14155550191"]')
        page.wait_for_selector("text=is opted out of every program")
        screenshot(page, "review-queue-after-opt-out")
        left = (page.locator("text=Stpo, thanks").count(), page.locator("text=who is this?").count())
        page.goto(live_server.url + "/admin/messaging/inboundmessage/")
        screenshot(page, "inbound-messages")
        page.goto(live_server.url + f"/admin/messaging/inboundmessage/{detail}/change/")
        screenshot(page, "inbound-message-detail")
        page.goto(live_server.url + "/admin/messaging/keywordrule/?q=stop")
        screenshot(page, "keyword-rules")
        page.goto(live_server.url + "/admin/messaging/outboundmessage/")
        screenshot(page, "outbox")
        return left, shown

    left, shown = browser.run(opt_out_in_the_queue, viewport=DESKTOP)
    assert left == (0, 1)
    assert "Best guess" in shown and "one letter away from the opt-out keyword" in shown
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
