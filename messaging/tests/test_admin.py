"""Admin: the review queue's one-click decisions, role gating, and fast, searchable lists."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.models import InboundClassification, InboundMessage, MessageKind, OutboundMessage, ReviewDecision
from messaging.roles import ROLE_PERMISSIONS
from testing.fake_twilio import new_sid

pytestmark = pytest.mark.django_db


def staff(role: str, username: str | None = None) -> User:
    user = User.objects.create_user(username or role.replace(" ", "-").lower(), password="pw", is_staff=True)
    for dotted in ROLE_PERMISSIONS[role]:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def queued_reply(body="Not interested", phone="+14155550131"):
    contact = make_contact(phone)
    program = make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    reply = InboundMessage.objects.create(
        sid=new_sid(), from_number=phone, body=body, contact=contact, classification=InboundClassification.REVIEW,
        keyword="not interested", received_at=timezone.now(), review_decision=ReviewDecision.PENDING,
    )  # fmt: skip
    return reply, contact, program


def test_every_declared_role_permission_exists():
    for role, permissions in ROLE_PERMISSIONS.items():
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), (
                role,
                dotted,
            )


def test_a_support_agent_opts_out_a_queued_reply_with_one_click_and_the_decision_is_recorded(client):
    agent = staff("Support agents")
    reply, contact, program = queued_reply()
    client.force_login(agent)
    queue = client.get(reverse("admin:messaging_reviewitem_changelist"))
    assert queue.status_code == 200
    assert b"Not interested" in queue.content
    response = client.post(reverse("admin:messaging_reviewitem_opt_out", args=[reply.pk]))
    assert response.status_code == 302
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    event = ConsentEvent.objects.get(kind=ConsentKind.OPT_OUT)
    assert event.method == ConsentMethod.ADMIN and event.actor == agent
    assert event.evidence["message_sid"] == reply.sid and event.evidence["body"] == "Not interested"
    reply.refresh_from_db()
    assert reply.review_decision == ReviewDecision.OPTED_OUT
    assert reply.reviewed_by == agent and reply.reviewed_at is not None
    assert b"Not interested" not in client.get(reverse("admin:messaging_reviewitem_changelist")).content


def test_a_dismissed_reply_leaves_consent_alone_and_records_who_dismissed_it(client):
    agent = staff("Support agents")
    reply, contact, program = queued_reply("who is this?")
    client.force_login(agent)
    client.post(reverse("admin:messaging_reviewitem_dismiss", args=[reply.pk]))
    reply.refresh_from_db()
    assert reply.review_decision == ReviewDecision.DISMISSED and reply.reviewed_by == agent
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


def test_a_reply_can_be_decided_only_once(client):
    agent = staff("Support agents")
    reply, _, _ = queued_reply()
    client.force_login(agent)
    client.post(reverse("admin:messaging_reviewitem_dismiss", args=[reply.pk]))
    client.post(reverse("admin:messaging_reviewitem_opt_out", args=[reply.pk]))
    reply.refresh_from_db()
    assert reply.review_decision == ReviewDecision.DISMISSED
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 0


def test_the_bulk_action_opts_out_every_selected_reply(client):
    agent = staff("Support agents")
    first, c1, p1 = queued_reply(phone="+14155550132")
    second, c2, p2 = queued_reply(phone="+14155550133")
    client.force_login(agent)
    client.post(
        reverse("admin:messaging_reviewitem_changelist"),
        {"action": "opt_out_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert subscription_status(contact=c1, program=p1) == SubscriptionStatus.OPTED_OUT
    assert subscription_status(contact=c2, program=p2) == SubscriptionStatus.OPTED_OUT


@pytest.mark.parametrize("role", ["Marketing staff", "Compliance auditors"])
def test_roles_without_the_review_permission_can_not_see_or_decide_the_queue(client, role):
    reply, contact, program = queued_reply()
    client.force_login(staff(role))
    assert client.get(reverse("admin:messaging_reviewitem_changelist")).status_code == 403
    assert client.post(reverse("admin:messaging_reviewitem_opt_out", args=[reply.pk])).status_code == 403
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


def test_a_decision_needs_post(client):
    reply, _, _ = queued_reply()
    client.force_login(staff("Support agents"))
    assert client.get(reverse("admin:messaging_reviewitem_opt_out", args=[reply.pk])).status_code == 405


def test_marketing_sees_the_outbox_but_not_inbound_replies(client):
    OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550134", body="Preview of the weekend offer")
    client.force_login(staff("Marketing staff"))
    outbox = client.get(reverse("admin:messaging_outboundmessage_changelist"))
    assert outbox.status_code == 200 and b"Preview of the weekend offer" in outbox.content
    assert client.get(reverse("admin:messaging_inboundmessage_changelist")).status_code == 403


def test_the_outbox_is_read_only(client):
    message = OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550134", body="Hi")
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get(reverse("admin:messaging_outboundmessage_add")).status_code == 403
    page = client.get(reverse("admin:messaging_outboundmessage_change", args=[message.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content


def test_inbound_messages_are_found_by_number_in_any_format(client):
    queued_reply(body="Hello there", phone="+14155550135")
    InboundMessage.objects.create(sid=new_sid(), from_number="+14155550136", body="Someone else",
                                  classification=InboundClassification.OTHER, received_at=timezone.now())  # fmt: skip
    client.force_login(staff("Compliance auditors"))
    page = client.get(reverse("admin:messaging_inboundmessage_changelist"), {"q": "(415) 555-0135"})
    assert page.status_code == 200
    assert b"Hello there" in page.content and b"Someone else" not in page.content
    filtered = client.get(reverse("admin:messaging_inboundmessage_changelist"), {"classification__exact": "other"})
    assert b"Someone else" in filtered.content and b"Hello there" not in filtered.content


def test_the_outbox_is_searched_by_the_contacts_number_in_any_format(client):
    contact = make_contact("+14155550137")
    OutboundMessage.objects.create(kind=MessageKind.TEST, contact=contact, to=str(contact.phone), body="For 0137")
    OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550138", body="For someone else")
    client.force_login(staff("Marketing staff"))
    page = client.get(reverse("admin:messaging_outboundmessage_changelist"), {"q": "415-555-0137"})
    assert b"For 0137" in page.content and b"For someone else" not in page.content
