"""Admin: the review queue's one-click decisions, role gating, and fast, searchable lists."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
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


@pytest.mark.parametrize("query", ["0139", "nia", "Nia Ok"])
def test_outbox_and_replies_are_found_by_the_contacts_last_four_digits_or_name(client, query):
    contact = make_contact("+14155550139", first_name="Nia", last_name="Okafor")
    OutboundMessage.objects.create(kind=MessageKind.TEST, contact=contact, to=str(contact.phone), body="For Nia")
    OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550140", body="For someone else")
    InboundMessage.objects.create(sid=new_sid(), contact=contact, from_number=str(contact.phone), body="Nia wrote",
                                  classification=InboundClassification.OTHER, received_at=timezone.now(),
                                  review_decision=ReviewDecision.PENDING)  # fmt: skip
    InboundMessage.objects.create(sid=new_sid(), from_number="+14155550140", body="A stranger wrote",
                                  classification=InboundClassification.OTHER, received_at=timezone.now(),
                                  review_decision=ReviewDecision.PENDING)  # fmt: skip
    client.force_login(User.objects.create_superuser("root", password="pw"))
    outbox = client.get(reverse("admin:messaging_outboundmessage_changelist"), {"q": query}).content
    assert b"For Nia" in outbox and b"For someone else" not in outbox
    for replies in ("admin:messaging_inboundmessage_changelist", "admin:messaging_reviewitem_changelist"):
        found = client.get(reverse(replies), {"q": query}).content
        assert b"Nia wrote" in found and b"A stranger wrote" not in found
    stranger = client.get(reverse("admin:messaging_reviewitem_changelist"), {"q": "(415) 555-0140"}).content
    assert b"A stranger wrote" in stranger and b"Nia wrote" not in stranger


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's")
@pytest.mark.parametrize(
    ("query", "index"),
    [("(415) 555-0139", "inbound_from"), ("0139", "Index Cond: (contact_id ="), ("Nia", "Index Cond: (contact_id =")],
)
def test_replies_are_searched_through_an_index_never_a_filter_over_every_reply(query, index):
    """A million replies: a whole number goes to the sender's index, anything else to the contact's."""
    from django.contrib.admin.sites import site

    queryset, _ = site._registry[InboundMessage].get_search_results(None, InboundMessage.objects.order_by(), query)
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: ask whether an index *can* serve
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan and "SubPlan" not in plan, plan


def test_outbox_and_replies_are_found_by_message_sid(client):
    sent = OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550141", body="Sent one", sid=new_sid())
    OutboundMessage.objects.create(kind=MessageKind.TEST, to="+14155550141", body="Another", sid=new_sid())
    received = InboundMessage.objects.create(
        sid=new_sid(), from_number="+14155550141", body="Got one", classification=InboundClassification.OTHER,
        received_at=timezone.now(),
    )  # fmt: skip
    client.force_login(User.objects.create_superuser("root", password="pw"))
    outbox = client.get(reverse("admin:messaging_outboundmessage_changelist"), {"q": sent.sid}).content
    assert b"Sent one" in outbox and b"Another" not in outbox
    replies = client.get(reverse("admin:messaging_inboundmessage_changelist"), {"q": received.sid}).content
    assert b"Got one" in replies


# -- keyword rules ---------------------------------------------------------------------------------------


def _rule_post(**fields):
    return {"text": "", "meaning": "opt_in", "match": "word", "language": "", "is_active": "on", "source": "",
            "note": "", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "meaning", "shadowed"),
    [("stop please", "opt_in", "stop"), ("stop texting me", "help", "stop texting"), ("Baja", "no_action", "baja"),
     ("take my number off", "opt_in", "take my number off"), ("Stpo", "opt_in", "stop")],
)  # fmt: skip
def test_the_admin_refuses_a_keyword_rule_that_would_shadow_an_opt_out(client, text, meaning, shadowed):
    from messaging.models import KeywordRule

    client.force_login(staff("Support agents"))
    response = client.post(reverse("admin:messaging_keywordrule_add"), _rule_post(text=text, meaning=meaning))
    assert response.status_code == 200
    page = response.content.decode()
    assert "would shadow the opt-out" in page and shadowed in page
    assert not KeywordRule.objects.filter(text=text).exists()


def test_the_admin_saves_a_rule_that_shadows_nothing_and_it_takes_effect(client):
    from messaging.keywords import OPT_IN, classify
    from messaging.models import KeywordRule
    from messaging.selectors import keywords_current

    client.force_login(staff("Support agents"))
    response = client.post(reverse("admin:messaging_keywordrule_add"), _rule_post(text="SÍ", language="es"))
    assert response.status_code == 302
    assert KeywordRule.objects.filter(text="SÍ", meaning="opt_in").exists()
    assert classify("si!", keywords=keywords_current()).meaning == OPT_IN


def test_an_opt_out_rule_can_take_another_meaning_only_when_nothing_else_covers_it(client):
    from messaging.models import KeywordRule

    client.force_login(staff("Support agents"))
    basta = KeywordRule.objects.get(text="BASTA", match="word")
    response = client.post(reverse("admin:messaging_keywordrule_change", args=[basta.pk]),
                           _rule_post(text="BASTA", meaning="review", language="it"))  # fmt: skip
    assert response.status_code == 302  # a staff decision: BASTA is no FCC word
    stop = KeywordRule.objects.get(text="STOP", match="word")
    response = client.post(reverse("admin:messaging_keywordrule_change", args=[stop.pk]),
                           _rule_post(text="STOP", meaning="opt_in"))  # fmt: skip
    assert "would shadow the opt-out" in response.content.decode()


def test_the_rule_list_shows_sources_and_which_rules_are_ignored(client):
    from messaging.models import KeywordRule

    KeywordRule.objects.create(text="stop please", meaning="opt_in")  # as an old database may hold it
    client.force_login(staff("Compliance auditors"))
    page = client.get(reverse("admin:messaging_keywordrule_changelist"), {"q": "stop"}).content.decode()
    assert "it would shadow the opt-out “stop”" in page
    assert "FCC 24-24" in page


def test_inbound_list_detail_and_review_queue_show_the_decision_and_why(client):
    from messaging.inbound import inbound_receive

    contact = make_contact("+14155550139")
    consent_opt_in(contact=contact, program=make_program(), method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    inbound_receive(params={"MessageSid": new_sid(), "From": "+14155550139", "Body": "Stpo"})
    message = InboundMessage.objects.get()
    client.force_login(staff("Support agents"))
    queue = client.get(reverse("admin:messaging_reviewitem_changelist")).content.decode()
    assert "Best guess" in queue and "Opt-out" in queue and "one letter away from the opt-out keyword" in queue
    listing = client.get(reverse("admin:messaging_inboundmessage_changelist")).content.decode()
    assert "one letter away" in listing
    detail = client.get(reverse("admin:messaging_inboundmessage_change", args=[message.pk])).content.decode()
    assert "Why it was classified so" in detail and "misspelling never opts out" in detail


# --- replies from staff ---------------------------------------------------------------------------------


def test_a_support_agent_answers_a_text_and_the_reply_is_recorded_with_their_name(client):
    inbound, contact, _ = queued_reply(body="Do you ship to Canada?")
    agent = staff("Support agents")
    client.force_login(agent)
    url = reverse("admin:messaging_inboundmessage_reply", args=[inbound.pk])
    assert "Do you ship to Canada?" in client.get(url).content.decode()
    response = client.post(url, {"body": "Yes, we do!"})
    assert response.status_code == 302
    reply = OutboundMessage.objects.get(kind=MessageKind.AGENT_REPLY)
    assert (reply.contact, reply.in_reply_to, reply.requested_by) == (contact, inbound, agent)
    assert reply.body == "Yes, we do!"
    assert reply.status == "pending"


def test_a_reply_to_someone_who_opted_out_of_everything_is_refused_with_the_reason(client):
    inbound, contact, _ = queued_reply(body="why do you still text me")
    from contacts.services import consent_opt_out

    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    client.force_login(staff("Support agents"))
    response = client.post(reverse("admin:messaging_inboundmessage_reply", args=[inbound.pk]), {"body": "Sorry!"})
    assert response.status_code == 200
    assert "Not sent: opted out" in response.content.decode()
    assert not OutboundMessage.objects.filter(kind=MessageKind.AGENT_REPLY).exists()


def test_only_staff_allowed_to_reply_reach_the_reply_page(client):
    inbound, _, _ = queued_reply()
    client.force_login(staff("Marketing staff"))
    response = client.post(reverse("admin:messaging_inboundmessage_reply", args=[inbound.pk]), {"body": "Hi"})
    assert response.status_code == 403
    assert not OutboundMessage.objects.filter(kind=MessageKind.AGENT_REPLY).exists()
