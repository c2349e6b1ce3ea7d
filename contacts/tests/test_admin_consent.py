"""Support agents change consent only with a reason or evidence; auditors export what they need."""

import csv
import io
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from contacts.ledger import ledger_seal
from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, SubscriptionStatus
from contacts.selectors import consent_may_send, subscription_status
from contacts.services import consent_opt_in
from messaging.models import MessageKind, OutboundMessage
from testing.users import AUDITOR, MARKETING, SUPPORT

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:contacts_contact_changelist")
LEDGER = reverse("admin:contacts_consentevent_changelist")


def _subscribed(program=None, phone=None):
    contact, program = make_contact(phone), program or make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form_url": "/join/x/"})
    return contact, program


def _action(action, ids, **extra):
    return {"action": action, ACTION_CHECKBOX_NAME: [str(i) for i in ids], "index": "0", **extra}


# --- Opt-out -----------------------------------------------------------------------------------------


def test_opt_out_action_asks_for_a_reason_before_changing_anything(client, login_as):
    login_as(SUPPORT)
    contact, program = _subscribed()
    page = client.post(CHANGELIST, _action("opt_out_selected", [contact.pk]))
    assert page.status_code == 200
    assert "admin/contacts/contact/opt_out.html" in [t.name for t in page.templates]
    assert consent_may_send(contact=contact, program=program)

    blank_reason = client.post(CHANGELIST, _action("opt_out_selected", [contact.pk], confirm="yes", reason="  "))
    assert blank_reason.status_code == 200
    assert blank_reason.context["form"].errors["reason"]
    assert consent_may_send(contact=contact, program=program)


def test_opt_out_action_records_one_event_per_contact_with_reason_and_agent(client, login_as):
    agent = login_as(SUPPORT)
    (first, program), (second, _) = _subscribed(), _subscribed()
    response = client.post(
        CHANGELIST, _action("opt_out_selected", [first.pk, second.pk], confirm="yes", reason="Asked by phone")
    )
    assert response.status_code == 302
    events = ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).order_by("contact_id")
    assert [(e.contact_id, e.method, e.actor_id, e.evidence["reason"]) for e in events] == [
        (first.pk, ConsentMethod.ADMIN, agent.pk, "Asked by phone"),
        (second.pk, ConsentMethod.ADMIN, agent.pk, "Asked by phone"),
    ]
    assert not consent_may_send(contact=first, program=program)


def test_opt_out_button_on_the_contact_page_requires_a_reason(client, login_as):
    agent = login_as(SUPPORT)
    contact, program = _subscribed()
    change_page = client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    url = reverse("admin:contacts_contact_opt_out", args=[contact.pk])
    assert url in change_page
    assert client.post(url, {"reason": ""}).status_code == 200
    assert consent_may_send(contact=contact, program=program)
    response = client.post(url, {"reason": "E-mailed support: stop all texts"})
    assert response.status_code == 302
    event = ConsentEvent.objects.get(kind=ConsentKind.OPT_OUT)
    assert (event.actor, event.evidence, event.program) == (agent, {"reason": "E-mailed support: stop all texts"}, None)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT


# --- Opt-in with evidence -------------------------------------------------------------------------------


def _opt_in_data(program, **overrides):
    data = {
        "program": program.pk,
        "channel": "recorded_call",
        "consented_at": (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "details": "Call recording #A-1234: customer asked to get deals again",
    }
    return {**data, **overrides}


def test_staff_opt_in_records_its_own_event_with_how_and_when(client, login_as):
    agent = login_as(SUPPORT)
    contact, program = make_contact(), make_program()
    response = client.post(reverse("admin:contacts_contact_opt_in", args=[contact.pk]), _opt_in_data(program))
    assert response.status_code == 302
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.method, event.actor, event.program) == ("opt_in", "admin", agent, program)
    assert event.evidence["channel"] == "recorded_call"
    assert event.evidence["reason"].startswith("Call recording #A-1234")
    assert "consented_at" in event.evidence
    assert consent_may_send(contact=contact, program=program)
    [confirmation] = OutboundMessage.objects.filter(contact=contact)
    assert (confirmation.kind, confirmation.consent_event) == ("confirm", event)


def test_staff_opt_in_dated_before_the_numbers_latest_stop_is_refused(client, login_as):
    login_as(SUPPORT)
    contact, program = _subscribed()
    client.post(reverse("admin:contacts_contact_opt_out", args=[contact.pk]), {"reason": "asked"})
    response = client.post(reverse("admin:contacts_contact_opt_in", args=[contact.pk]), _opt_in_data(program))
    assert response.status_code == 200
    assert "opted out on" in response.content.decode()
    assert not consent_may_send(contact=contact, program=program)
    assert ConsentEvent.objects.filter(contact=contact).count() == 2  # opt-in, opt-out: nothing more


def test_staff_opt_in_after_a_stop_waits_for_the_persons_own_yes(client, login_as):
    login_as(SUPPORT)
    contact, program = _subscribed()
    client.post(reverse("admin:contacts_contact_opt_out", args=[contact.pk]), {"reason": "asked"})
    later = (timezone.now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        response = client.post(
            reverse("admin:contacts_contact_opt_in", args=[contact.pk]), _opt_in_data(program, consented_at=later)
        )
    assert response.status_code == 302
    event = ConsentEvent.objects.filter(contact=contact).order_by("-id").first()
    assert event.kind == "pending"
    assert not consent_may_send(contact=contact, program=program)
    [request] = OutboundMessage.objects.filter(contact=contact, kind="optin_req")
    assert request.consent_event == event and "YES" in request.body


def test_staff_opt_in_to_a_double_opt_in_program_sends_a_yes_request_unless_an_exception_is_recorded(
    client, login_as
):
    login_as(SUPPORT)
    program = make_program(double_opt_in=True)
    asked, excepted = make_contact(), make_contact()
    client.post(reverse("admin:contacts_contact_opt_in", args=[asked.pk]), _opt_in_data(program))
    client.post(
        reverse("admin:contacts_contact_opt_in", args=[excepted.pk]),
        _opt_in_data(program, double_opt_in_exception="Read the terms back on recorded call #A-1234; she said yes"),
    )
    assert ConsentEvent.objects.get(contact=asked).kind == "pending"
    assert OutboundMessage.objects.get(contact=asked).kind == "optin_req"
    event = ConsentEvent.objects.get(contact=excepted)
    assert event.kind == "opt_in"
    assert event.evidence["double_opt_in_exception"].startswith("Read the terms back")


def test_staff_opt_in_to_an_age_gated_program_needs_a_date_of_birth_of_age(client, login_as):
    login_as(SUPPORT)
    program = make_program(age_gated=True, minimum_age=21)
    contact = make_contact()
    url = reverse("admin:contacts_contact_opt_in", args=[contact.pk])
    missing = client.post(url, _opt_in_data(program))
    young = client.post(url, _opt_in_data(program, date_of_birth=(timezone.now() - timedelta(days=365 * 20)).date()))
    assert missing.status_code == young.status_code == 200
    assert "date of birth" in missing.content.decode() and "under 21" in young.content.decode()
    assert not ConsentEvent.objects.filter(contact=contact).exists()
    ok = client.post(url, _opt_in_data(program, date_of_birth="1990-04-30"))
    assert ok.status_code == 302
    assert ConsentEvent.objects.get(contact=contact).evidence["age_gate"]["passed"] is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"details": ""}, "details"),
        ({"channel": ""}, "channel"),
        ({"consented_at": ""}, "consented_at"),
        ({"consented_at": "2999-01-01T10:00"}, "consented_at"),
    ],
)
def test_opting_back_in_without_complete_evidence_is_refused(client, login_as, overrides, field):
    login_as(SUPPORT)
    contact, program = make_contact(), make_program()
    url = reverse("admin:contacts_contact_opt_in", args=[contact.pk])
    response = client.post(url, _opt_in_data(program, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize("role", [AUDITOR, MARKETING])
def test_roles_without_the_permission_cannot_opt_out_or_in(client, login_as, role):
    login_as(role)
    contact, program = _subscribed()
    assert client.post(reverse("admin:contacts_contact_opt_out", args=[contact.pk]), {"reason": "x"}).status_code == 403
    opt_in = client.post(reverse("admin:contacts_contact_opt_in", args=[contact.pk]), _opt_in_data(program))
    assert opt_in.status_code == 403
    action = client.post(CHANGELIST, _action("opt_out_selected", [contact.pk], confirm="yes", reason="x"))
    assert action.status_code in (200, 302)  # the action is unknown to them: nothing happens
    assert consent_may_send(contact=contact, program=program)
    page = client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).content.decode()
    assert reverse("admin:contacts_contact_opt_out", args=[contact.pk]) not in page


# --- Exports ------------------------------------------------------------------------------------------------


def test_auditor_exports_selected_ledger_events_as_csv(client, login_as):
    login_as(AUDITOR)
    contact, program = _subscribed()
    _subscribed()  # another contact's event, not selected
    ledger_seal()
    event = ConsentEvent.objects.get(contact=contact)
    response = client.post(LEDGER, _action("export_csv", [event.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    columns = ("id", "phone", "kind", "program", "position", "hash", "hash_scheme")
    assert [tuple(row[column] for column in columns) for row in rows] == [
        (str(event.pk), str(contact.phone), "opt_in", program.slug, str(event.position), event.hash, "hmac-sha256")
    ]
    assert len(event.hash) == 64
    assert json.loads(rows[0]["evidence"]) == {"form_url": "/join/x/"}


def test_support_agent_cannot_export_the_ledger(client, login_as):
    login_as(SUPPORT)
    contact, _ = _subscribed()
    event = ConsentEvent.objects.get(contact=contact)
    response = client.post(LEDGER, _action("export_csv", [event.pk]))
    assert not response.get("Content-Type", "").startswith("text/csv")
    assert client.get(LEDGER).context["action_form"] is None  # no action offered at all


def test_contact_export_holds_profile_consent_and_messages(client, login_as):
    login_as(AUDITOR)
    contact, program = _subscribed()
    ledger_seal()
    OutboundMessage.objects.create(kind=MessageKind.CONFIRMATION, contact=contact, to=str(contact.phone), body="Hi")
    response = client.get(reverse("admin:contacts_contact_export", args=[contact.pk]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["contact"]["phone"] == str(contact.phone)
    assert data["subscriptions"] == [
        {"program": program.slug, "program_name": str(program), "status": "active",
         "since": data["subscriptions"][0]["since"], "last_event_id": data["consent_events"][0]["id"]},
    ]  # fmt: skip
    assert data["consent_events"][0]["evidence"] == {"form_url": "/join/x/"}
    sealed = ConsentEvent.objects.get(contact=contact)
    sealed_as = data["consent_events"][0]
    assert (sealed_as["chain_position"], sealed_as["hash"], sealed_as["hash_scheme"]) == (
        sealed.position, sealed.hash, "hmac-sha256"
    )  # fmt: skip
    assert len(sealed.hash) == 64
    assert [m["body"] for m in data["outbound_messages"]] == ["Hi"]


@pytest.mark.parametrize("role", [SUPPORT, MARKETING])
def test_contact_export_is_refused_without_the_permission(client, login_as, role):
    login_as(role)
    contact, _ = _subscribed()
    assert client.get(reverse("admin:contacts_contact_export", args=[contact.pk])).status_code == 403


def test_opt_out_action_refuses_more_than_its_limit_and_changes_nothing(client, login_as, monkeypatch):
    from contacts import admin as contacts_admin

    login_as(SUPPORT)
    monkeypatch.setattr(contacts_admin, "OPT_OUT_ACTION_LIMIT", 1)
    (first, program), (second, _) = _subscribed(), _subscribed()
    response = client.post(
        CHANGELIST, _action("opt_out_selected", [first.pk, second.pk], confirm="yes", reason="x"), follow=True
    )
    assert "at most 1 contacts" in response.content.decode()
    assert not ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).exists()
    assert consent_may_send(contact=first, program=program)
