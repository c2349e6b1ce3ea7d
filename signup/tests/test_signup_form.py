"""The public sign-up form through Django's test client, against PostgreSQL and Redis."""

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, Subscription, SubscriptionStatus
from contacts.selectors import BLOCK_LABELS, subscription_status
from contacts.services import consent_opt_out, contact_get_or_create, number_suppress
from contacts.tests.factories import make_program
from messaging.backends import locmem
from messaging.models import MessageKind, OutboundMessage
from messaging.texts import text_double_opt_in_request, text_opt_in_confirmation
from signup.disclosure import disclosure_compose
from signup.models import DisclosureVersion

from .conftest import form_data

pytestmark = pytest.mark.django_db


def _submit(client, program, capture, **overrides):
    with capture(execute=True):
        return client.post(f"/join/{program.slug}/", form_data(program, **overrides), HTTP_USER_AGENT="TestBrowser/1.0")


def _nothing_stored_or_sent():
    assert Contact.objects.count() == 0
    assert ConsentEvent.objects.count() == 0
    assert OutboundMessage.objects.count() == 0
    assert locmem.outbox == []


@pytest.mark.smoke
def test_page_shows_disclosure_beside_an_unchecked_consent_checkbox(client, program):
    response = client.get("/join/deals/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'type="checkbox" name="consent"' in html
    checkbox = html.split('name="consent"', 1)[1].split(">", 1)[0]
    assert "checked" not in checkbox
    expected = [
        "Acme Deals", "Weekly offers", "Up to 4 msgs/month", "Msg &amp; data rates may apply",
        "Reply STOP to opt out, HELP for help", "Consent is not a condition of purchase",
        'href="https://acme.test/terms"', 'href="https://acme.test/privacy"', "csrfmiddlewaretoken",
    ]  # fmt: skip
    for words in expected:
        assert words in html


def test_unknown_and_inactive_programs_are_not_found(client, program):
    make_program(slug="old", is_active=False)
    assert client.get("/join/nope/").status_code == 404
    assert client.get("/join/old/").status_code == 404
    assert client.get("/join/old/thanks/").status_code == 404


@pytest.mark.smoke
def test_single_opt_in_signup_is_active_with_evidence_and_one_confirmation(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    response = _submit(client, program, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == "/join/deals/thanks/"
    contact = Contact.objects.get()
    assert str(contact.phone) == "+14155550142"
    assert contact.first_name == "Ana"
    event = ConsentEvent.objects.get()
    assert (event.kind, event.method, event.program) == (ConsentKind.OPT_IN, ConsentMethod.WEB_FORM, program)
    version = DisclosureVersion.objects.get()
    with translation.override("en"):
        disclosure = disclosure_compose(program)
    assert event.evidence["disclosure_text"] == disclosure.text == version.text
    assert event.evidence["disclosure_sha256"] == disclosure.sha256 == version.sha256
    assert event.evidence["disclosure_version"] == version.pk
    assert event.evidence["form_url"] == "http://testserver/join/deals/"
    assert event.evidence["ip"] == "127.0.0.1"
    assert event.evidence["user_agent"] == "TestBrowser/1.0"
    assert event.evidence["language"] == "en"
    assert event.evidence["age_gate"] is None
    assert Subscription.objects.get().status == SubscriptionStatus.ACTIVE
    message = OutboundMessage.objects.get()
    assert (message.kind, message.to, message.contact, message.program) == (
        MessageKind.CONFIRMATION, "+14155550142", contact, program,
    )  # fmt: skip
    assert [sms.body for sms in locmem.outbox] == [text_opt_in_confirmation(program)]


@pytest.mark.smoke
def test_double_opt_in_signup_is_pending_and_asks_for_yes(
    client, double_opt_in_program, eager_celery, django_capture_on_commit_callbacks
):
    response = _submit(client, double_opt_in_program, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert ConsentEvent.objects.get().kind == ConsentKind.PENDING
    subscription = Subscription.objects.get()
    assert subscription.status == SubscriptionStatus.PENDING
    assert subscription.pending_expires_at is not None
    assert len(locmem.outbox) == 1
    assert locmem.outbox[0].body == text_double_opt_in_request(double_opt_in_program)
    assert "Reply YES" in locmem.outbox[0].body
    thanks = client.get(response["Location"]).content.decode()
    assert "Reply <strong>YES</strong> to the text we just sent" in thanks


def test_spanish_page_records_spanish_disclosure_and_sends_spanish_text(
    client, double_opt_in_program, eager_celery, django_capture_on_commit_callbacks
):
    client.cookies["django_language"] = "es"
    page = client.get("/join/vip/").content.decode()
    assert '<html lang="es">' in page
    assert "El consentimiento no es una condición de compra" in page

    _submit(client, double_opt_in_program, django_capture_on_commit_callbacks, language="es")

    event = ConsentEvent.objects.get()
    assert event.evidence["language"] == "es"
    assert "El consentimiento no es una condición de compra" in event.evidence["disclosure_text"]
    assert DisclosureVersion.objects.get().language == "es"
    assert locmem.outbox[0].body.startswith("Acme Deals: Responde YES para confirmar")
    assert "Pueden aplicar tarifas de mensajes y datos." in locmem.outbox[0].body
    assert "Hasta 4 mensajes al mes." in locmem.outbox[0].body  # the frequency in Spanish too


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"phone": "555"}, "phone", "is not a valid phone number"),
        ({"phone": "hello"}, "phone", "is not a phone number"),
        ({"phone": ""}, "phone", "Enter your mobile number."),
        ({"consent": None}, "consent", "Check the box to agree to receive text messages."),
    ],
)
def test_invalid_input_returns_the_form_with_errors_and_stores_and_sends_nothing(
    client, program, eager_celery, django_capture_on_commit_callbacks, overrides, field, message
):
    response = _submit(client, program, django_capture_on_commit_callbacks, **overrides)

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}_error"' in html
    assert (
        f'aria-describedby="id_{field}_error"' in html
        or f'aria-describedby="id_{field}_helptext id_{field}_error"' in html
    )
    _nothing_stored_or_sent()


def test_age_gated_program_requires_a_date_of_birth(client, eager_celery, django_capture_on_commit_callbacks):
    program = make_program(slug="wine", age_gated=True, minimum_age=21)
    assert 'name="date_of_birth"' in client.get("/join/wine/").content.decode()

    response = _submit(client, program, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert "Enter your date of birth." in response.content.decode()
    _nothing_stored_or_sent()


def test_under_age_person_is_refused_and_nothing_is_stored(client, eager_celery, django_capture_on_commit_callbacks):
    import time_machine

    program = make_program(slug="wine", age_gated=True, minimum_age=21)
    with time_machine.travel("2026-06-15 12:00Z"):
        response = _submit(client, program, django_capture_on_commit_callbacks, date_of_birth="06/16/2005")

    assert response.status_code == 200
    assert "You must be at least 21 years old" in response.content.decode()
    _nothing_stored_or_sent()


def test_person_of_age_signs_up_and_the_evidence_records_the_age_check(
    client, eager_celery, django_capture_on_commit_callbacks
):
    import time_machine

    program = make_program(slug="wine", age_gated=True, minimum_age=21)
    with time_machine.travel("2026-06-15 12:00Z"):
        response = _submit(client, program, django_capture_on_commit_callbacks, date_of_birth="2005-06-15")

    assert response.status_code == 302
    assert ConsentEvent.objects.get().evidence["age_gate"] == {
        "minimum_age": 21, "passed": True, "checked_on": "2026-06-15",
    }  # fmt: skip
    assert len(locmem.outbox) == 1


def test_already_subscribed_number_gets_no_second_text_and_the_same_answer(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    first = _submit(client, program, django_capture_on_commit_callbacks)
    second = _submit(client, program, django_capture_on_commit_callbacks, phone="+14155550142")

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert ConsentEvent.objects.count() == 1
    assert OutboundMessage.objects.count() == 1
    assert len(locmem.outbox) == 1


def test_a_web_sign_up_never_undoes_a_stop_it_waits_for_the_numbers_own_yes(
    client, program, eager_celery, django_capture_on_commit_callbacks, fake_twilio
):
    _submit(client, program, django_capture_on_commit_callbacks)
    contact = Contact.objects.get()
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    texts_before = len(locmem.outbox)

    # Anyone can type this number into the form; a single opt-in program doesn't change that.
    response = _submit(client, program, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    kinds = list(ConsentEvent.objects.values_list("kind", flat=True))
    assert kinds == [ConsentKind.OPT_IN, ConsentKind.OPT_OUT, ConsentKind.PENDING]
    assert Subscription.objects.get().status == SubscriptionStatus.PENDING
    pending = ConsentEvent.objects.last()
    assert "opt-out" in pending.evidence["double_opt_in_reason"]
    # And a number that opted out is never asked by text to come back: nothing is sent to it.
    assert len(locmem.outbox) == texts_before
    request = OutboundMessage.objects.get(kind="optin_req")
    assert (request.status, request.reason) == ("skipped", BLOCK_LABELS["asked_back"])
    # The page (the same whatever the number's history) tells the person how to confirm from their phone.
    code = pending.evidence["confirm_code"]
    assert f"YES {code}" in client.get(response["Location"]).content.decode()


def test_the_person_confirms_such_a_sign_up_by_texting_yes_and_its_code(
    client, program, eager_celery, django_capture_on_commit_callbacks, fake_twilio
):
    contact_get_or_create(phone="+14155550142")
    consent_opt_out(contact=Contact.objects.get(), method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    other = make_program(slug="other", double_opt_in=False)
    _submit(client, other, django_capture_on_commit_callbacks)  # a stranger's, say: its code is another
    _submit(client, program, django_capture_on_commit_callbacks)
    code = ConsentEvent.objects.filter(program=program).last().evidence["confirm_code"]
    with django_capture_on_commit_callbacks(execute=True):
        answer = fake_twilio.post_inbound(
            settings.PUBLIC_BASE_URL + "/sms/inbound/", "+14155550142", f"yes {code}", client=client
        )
    assert b"subscribed" in answer.content
    contact = Contact.objects.get()
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE
    assert subscription_status(contact=contact, program=other) == SubscriptionStatus.PENDING


def test_suppressed_number_gets_its_consent_recorded_but_no_text(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    number_suppress(phone="+14155550142", reason="erased on request")

    response = _submit(client, program, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert ConsentEvent.objects.count() == 1
    [held] = OutboundMessage.objects.all()
    assert (held.status, held.reason) == ("skipped", "number suppressed")
    assert locmem.outbox == []


def test_filled_honeypot_is_refused_with_a_message_and_nothing_is_sent(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    response = _submit(client, program, django_capture_on_commit_callbacks, website="http://spam.example")

    assert response.status_code == 200
    assert "We couldn&#x27;t accept this sign-up" in response.content.decode()
    _nothing_stored_or_sent()


def test_changed_terms_between_page_and_submit_ask_to_agree_again(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    data = form_data(program)
    program.frequency_text = "Up to 10 msgs/month"
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/join/deals/", data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The terms of this program changed" in html
    assert "Up to 10 msgs/month" in html
    _nothing_stored_or_sent()


def test_post_without_csrf_token_is_refused(program):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/join/deals/", form_data(program))
    assert response.status_code == 403
    _nothing_stored_or_sent()


def test_trusted_proxy_header_gives_the_client_ip(
    client, program, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = 2  # a load balancer, then a proxy on the web host
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/join/deals/", form_data(program), HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1")
    assert ConsentEvent.objects.get().evidence["ip"] == "203.0.113.9"


def test_existing_contact_keeps_the_name_staff_gave_it(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    contact_get_or_create(phone="+14155550142", first_name="Maria")
    _submit(client, program, django_capture_on_commit_callbacks, first_name="Mallory")
    assert Contact.objects.get().first_name == "Maria"


def test_the_public_form_never_fills_in_an_existing_contacts_empty_name(
    client, program, eager_celery, django_capture_on_commit_callbacks
):
    contact_get_or_create(phone="+14155550142")  # known, with no name yet
    _submit(client, program, django_capture_on_commit_callbacks, first_name="Mallory")
    assert Contact.objects.get().first_name == ""


@pytest.mark.parametrize("name", ["Flash sale today WIN $500 at http://evil.example/claim", "Ana2", "<b>Ana</b>"])
def test_a_first_name_that_is_not_a_name_is_refused_and_nothing_is_stored(
    client, program, eager_celery, django_capture_on_commit_callbacks, name
):
    response = _submit(client, program, django_capture_on_commit_callbacks, first_name=name)
    assert response.status_code == 200
    assert "letters only" in response.content.decode()
    assert not Contact.objects.exists() and not ConsentEvent.objects.exists()
    assert locmem.outbox == []
