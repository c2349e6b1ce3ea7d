"""The public opt-out page /optout/: revocation by any reasonable means, from a browser."""

import re

import pytest
from django.test import Client

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.backends import locmem
from messaging.models import MessageKind, OutboundMessage

pytestmark = pytest.mark.django_db

PHONE = "+14155550142"


def opt_out(client, phone="(415) 555-0142", **extra):
    return client.post("/optout/", {"phone": phone, "website": ""}, **extra)


def test_the_page_asks_only_for_the_number(client):
    page = client.get("/optout/").content.decode()
    assert 'name="phone"' in page and "csrfmiddlewaretoken" in page
    assert "reply STOP" in page


def test_a_web_opt_out_stops_every_program_with_evidence_and_one_confirmation(
    client, eager_celery, django_capture_on_commit_callbacks
):
    contact, deals, news = make_contact(PHONE), make_program(), make_program()
    for program in (deals, news):
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    with django_capture_on_commit_callbacks(execute=True):
        response = opt_out(client, HTTP_USER_AGENT="Phone browser", REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200 and "no more texts" in response.content.decode()
    assert {subscription_status(contact=contact, program=p) for p in (deals, news)} == {SubscriptionStatus.OPTED_OUT}
    event = ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).get()
    assert (event.method, event.evidence["ip"]) == ("web", "198.51.100.4")
    assert event.evidence["user_agent"] == "Phone browser"
    assert event.evidence["form_url"].endswith("/optout/")
    [sms] = locmem.outbox
    assert sms.to == PHONE and "unsubscribed" in sms.body
    with django_capture_on_commit_callbacks(execute=True):
        opt_out(client)  # a second time: recorded again, never confirmed twice
    assert len(locmem.outbox) == 1
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 2


def test_the_answer_is_the_same_for_a_number_we_never_texted_and_its_opt_out_is_on_record(
    client, eager_celery, django_capture_on_commit_callbacks
):
    known = make_contact(PHONE)
    consent_opt_in(contact=known, program=make_program(), method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    with django_capture_on_commit_callbacks(execute=True):
        subscribed = opt_out(client).content.decode()
        stranger = opt_out(client, phone="(415) 555-0177").content.decode()
    def page(html):  # each answer carries its own CSRF token for the language switch
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert page(subscribed) == page(stranger)
    assert Contact.objects.get(phone="+14155550177").consent_events.filter(kind=ConsentKind.OPT_OUT).exists()


def test_a_bad_number_is_a_clear_error_and_nothing_is_stored(client):
    response = opt_out(client, phone="12")
    assert response.status_code == 200
    assert "phone number" in response.content.decode()
    assert not ConsentEvent.objects.exists() and not OutboundMessage.objects.exists()


def test_the_page_needs_its_csrf_token():
    response = Client(enforce_csrf_checks=True).post("/optout/", {"phone": PHONE})
    assert response.status_code == 403
    assert not ConsentEvent.objects.exists()


def test_the_page_is_rate_limited_per_address(client, settings):
    settings.OPTOUT_RATE_LIMIT_PER_IP = "2/h"
    answers = [opt_out(client, phone=f"(415) 555-01{n:02d}", REMOTE_ADDR="203.0.113.9").status_code for n in range(3)]
    assert answers == [200, 200, 429]
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 2


def test_one_number_gets_a_bounded_number_of_confirmations(client, settings, eager_celery,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    settings.OPTOUT_RATE_LIMIT_PER_PHONE = "1/h"
    consent_opt_in(contact=make_contact(PHONE), program=make_program(), method=ConsentMethod.WEB_FORM,
                   evidence={"f": 1})  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
            assert opt_out(client, REMOTE_ADDR=address).status_code == 200
    assert OutboundMessage.objects.filter(kind=MessageKind.STOP_CONFIRMATION).count() == 1
