"""`POST /sms/inbound/`: signatures, idempotency, keyword effects and TwiML replies."""

from urllib.parse import urlencode

import pytest
from django.conf import settings

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, ProgramKeyword, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.models import InboundClassification, InboundMessage, KeywordMatch, KeywordMeaning, KeywordRule
from messaging.selectors import keywords_cache_clear
from messaging.tests.factories import yes_requested
from testing.fake_twilio import FakeTwilio, new_sid

pytestmark = pytest.mark.django_db

PHONE = "+14155550142"


def inbound_url() -> str:
    return settings.PUBLIC_BASE_URL + "/sms/inbound/"


@pytest.fixture
def text(fake_twilio, client):
    """Text the app from PHONE (or `from_`) through the signed webhook; returns the response."""

    def send(body, from_=PHONE, **extra):
        return fake_twilio.post_inbound(inbound_url(), from_, body, client=client, **extra)

    return send


def subscribed(phone=PHONE, programs=1, **program_fields):
    contact = make_contact(phone)
    made = []
    for _ in range(programs):
        program = make_program(**program_fields)
        consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
        made.append(program)
    return contact, made


def messages_in(response) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.content)  # noqa: S314  (our own response)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


# -- signatures ------------------------------------------------------------------------


def test_signed_inbound_is_stored_and_answered_with_twiml(text):
    response = text("Thanks, see you Saturday")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response')
    assert messages_in(response) == []
    stored = InboundMessage.objects.get()
    assert stored.body == "Thanks, see you Saturday"
    assert stored.from_number == PHONE
    assert stored.classification == InboundClassification.OTHER
    assert stored.params["NumMedia"] == "0"


def _raw_post(client, params, signature=None, path="/sms/inbound/"):
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return client.post(path, data=urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers)


def _stop_params():
    return {"MessageSid": new_sid(), "From": PHONE, "To": "+15005550006", "Body": "STOP",
            "AccountSid": settings.TWILIO_ACCOUNT_SID}  # fmt: skip


@pytest.mark.smoke
def test_missing_signature_is_rejected_and_nothing_is_stored(fake_twilio, client):
    subscribed()
    response = _raw_post(client, _stop_params())
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 0


def test_forged_signature_is_rejected_and_nothing_is_stored(fake_twilio, client):
    subscribed()
    params = _stop_params()
    forger = FakeTwilio(auth_token="someone-elses-token")
    response = _raw_post(client, params, forger.sign(inbound_url(), params))
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 0


def test_a_changed_parameter_breaks_the_signature(fake_twilio, client):
    contact, _ = subscribed()
    params = {**_stop_params(), "Body": "Thanks"}
    signature = fake_twilio.sign(inbound_url(), params)
    response = _raw_post(client, {**params, "Body": "STOP"}, signature)
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0
    assert Contact.objects.get(pk=contact.pk).subscriptions.get().status == SubscriptionStatus.ACTIVE


def test_signature_is_checked_against_the_public_url_behind_a_proxy(fake_twilio, client, settings):
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    params = _stop_params()
    # Twilio signed the public https URL; the request reaches us as http://testserver behind the proxy.
    public = fake_twilio.sign("https://sms.example.com/sms/inbound/", params)
    assert _raw_post(client, params, public).status_code == 200
    params = _stop_params()
    internal = fake_twilio.sign("http://testserver/sms/inbound/", params)
    assert _raw_post(client, params, internal).status_code == 403


def test_the_query_string_is_part_of_the_signed_url(fake_twilio, client):
    params = {**_stop_params(), "Body": "hello"}
    signed = fake_twilio.sign(inbound_url() + "?program=deals", params)
    assert _raw_post(client, params, signed, path="/sms/inbound/?program=deals").status_code == 200
    params = {**_stop_params(), "Body": "hello"}
    signed = fake_twilio.sign(inbound_url() + "?program=deals", params)
    assert _raw_post(client, params, signed, path="/sms/inbound/?program=other").status_code == 403


def test_get_is_not_allowed(client):
    assert client.get("/sms/inbound/").status_code == 405


# -- opt-out -----------------------------------------------------------------------------


@pytest.mark.smoke
def test_stop_opts_out_of_every_program_and_confirms_once_without_marketing(text):
    contact, programs = subscribed(programs=2)
    response = text("STOP", sid="SM" + "1" * 32)
    [reply] = messages_in(response)
    assert reply.startswith("Acme Deals:")
    assert "no more messages" in reply and "START" in reply
    assert "%" not in reply and "http" not in reply  # no offers, no links
    for program in programs:
        assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    event = ConsentEvent.objects.get(kind=ConsentKind.OPT_OUT)
    assert event.method == ConsentMethod.KEYWORD
    assert event.program is None  # every program
    assert event.evidence["message_sid"] == "SM" + "1" * 32
    assert event.evidence["body"] == "STOP"
    assert event.evidence["keyword"] == "stop"
    assert InboundMessage.objects.get().reply == reply


def test_a_second_stop_from_an_opted_out_number_gets_no_second_confirmation(text):
    subscribed()
    assert len(messages_in(text("STOP"))) == 1
    assert messages_in(text("stop")) == []
    assert messages_in(text("Unsubscribe")) == []
    assert InboundMessage.objects.filter(classification=InboundClassification.OPT_OUT).count() == 3


@pytest.mark.smoke
def test_a_repeat_delivery_of_the_same_message_sid_changes_and_sends_nothing(text):
    subscribed()
    sid = new_sid()
    assert len(messages_in(text("STOP", sid=sid))) == 1
    events = ConsentEvent.objects.count()
    again = text("STOP", sid=sid)
    assert again.status_code == 200
    assert messages_in(again) == []
    assert ConsentEvent.objects.count() == events
    assert InboundMessage.objects.count() == 1


def test_stop_from_an_unknown_number_creates_a_contact_so_the_opt_out_is_on_record(text):
    response = text("Stop please", from_="+14155550177")
    assert len(messages_in(response)) == 1
    contact = Contact.objects.get(phone="+14155550177")
    event = ConsentEvent.objects.get(contact=contact)
    assert event.kind == ConsentKind.OPT_OUT
    assert InboundMessage.objects.get().contact == contact


@pytest.mark.parametrize("body", ["please remove me", "No more texts!!", "stop texting me", "No mas", "OPT OUT"])
def test_plain_language_opt_outs_revoke_consent(text, body):
    contact, [program] = subscribed()
    assert len(messages_in(text(body))) == 1
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT


def test_an_opt_out_from_a_non_phone_sender_is_stored_without_a_contact(text):
    response = text("STOP", from_="ACME")
    assert response.status_code == 200
    stored = InboundMessage.objects.get()
    assert stored.contact is None and stored.classification == InboundClassification.OPT_OUT


# -- review queue -------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["Not interested in the shoes", "who is this?", "wrong number", "stpo"])
def test_ambiguous_replies_go_to_the_review_queue_and_change_nothing(text, body):
    contact, [program] = subscribed()
    response = text(body)
    assert messages_in(response) == []
    stored = InboundMessage.objects.get()
    assert stored.classification == InboundClassification.REVIEW
    assert stored.review_decision == "pending"
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


# -- OptOutType and Advanced Opt-Out ------------------------------------------------------------


def test_opt_out_type_decides_over_the_body(text):
    contact, [program] = subscribed()
    text("Keep them coming", OptOutType="STOP")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    text("stop", OptOutType="START")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


def test_with_advanced_opt_out_the_keyword_is_recorded_but_twilio_does_the_replying(text, settings):
    settings.TWILIO_ADVANCED_OPT_OUT = True
    contact, [program] = subscribed()
    assert messages_in(text("STOP", OptOutType="STOP")) == []
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert messages_in(text("HELP", OptOutType="HELP")) == []
    assert messages_in(text("START", OptOutType="START")) == []
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


def test_with_advanced_opt_out_a_plain_language_opt_out_is_still_confirmed_by_us(text, settings):
    settings.TWILIO_ADVANCED_OPT_OUT = True
    subscribed()
    assert len(messages_in(text("Please remove me from this"))) == 1


# -- opt-in again, confirm, program keywords -------------------------------------------------------


def test_start_restores_what_the_number_opted_out_of_with_the_message_as_evidence(text):
    contact, [program] = subscribed()
    text("STOP")
    sid = new_sid()
    [reply] = messages_in(text("START", sid=sid))
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE
    event = ConsentEvent.objects.filter(kind=ConsentKind.OPT_IN).latest("id")
    assert event.method == ConsentMethod.KEYWORD and event.evidence["message_sid"] == sid
    assert "subscribed" in reply and "STOP" in reply and "HELP" in reply and "Msg&data rates" in reply


def test_yes_confirms_a_pending_double_opt_in(text):
    contact = make_contact(PHONE)
    program = make_program(double_opt_in=True)
    yes_requested(contact, program)
    [reply] = messages_in(text("Yes!"))
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE
    assert program.name in reply
    assert InboundMessage.objects.get().classification == InboundClassification.OPT_IN


def test_yes_from_a_number_with_nothing_pending_or_opted_out_does_nothing(text):
    subscribed()
    assert messages_in(text("YES")) == []
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_IN).count() == 1


def test_a_program_keyword_is_a_keyword_opt_in_with_the_message_as_evidence(text):
    program = make_program()
    ProgramKeyword.objects.create(program=program, keyword="DEALS")
    sid = new_sid()
    [reply] = messages_in(text("deals", sid=sid, from_="+14155550166"))
    contact = Contact.objects.get(phone="+14155550166")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE
    event = ConsentEvent.objects.get(contact=contact)
    assert event.kind == ConsentKind.OPT_IN and event.method == ConsentMethod.KEYWORD
    assert event.evidence["body"] == "deals" and event.evidence["message_sid"] == sid
    assert reply.startswith("Acme Deals: You're subscribed")


def test_a_program_keyword_with_emoji_around_it_still_opts_in(text):
    program = make_program()
    ProgramKeyword.objects.create(program=program, keyword="DEALS")
    [reply] = messages_in(text("DEALS 🎉🎉", from_="+14155550167"))
    assert reply.startswith("Acme Deals: You're subscribed")


def test_an_age_gated_program_keyword_sends_to_the_web_form_instead_of_opting_in(text):
    program = make_program(age_gated=True)
    ProgramKeyword.objects.create(program=program, keyword="WINE")
    [reply] = messages_in(text("WINE"))
    assert f"/join/{program.slug}/" in reply
    assert ConsentEvent.objects.count() == 0


# -- HELP --------------------------------------------------------------------------------------


def test_help_answers_with_the_programs_brand_contact_frequency_rates_and_stop(text):
    subscribed(brand="Bean Co", name="Coffee club", help_contact="help@bean.test", frequency_text="Up to 2 msgs/week")
    [reply] = messages_in(text("help"))
    for part in ("Bean Co", "Coffee club", "help@bean.test", "Up to 2 msgs/week", "Msg&data rates may apply", "STOP"):
        assert part in reply


def test_help_from_an_unknown_number_gets_the_generic_help(text, settings):
    settings.SMS_DEFAULT_BRAND = "Acme"
    settings.SMS_DEFAULT_HELP_CONTACT = "acme.test/help"
    [reply] = messages_in(text("INFO", from_="+14155550155"))
    assert reply.startswith("Acme:") and "acme.test/help" in reply and "STOP" in reply


def test_an_opted_out_number_is_never_asked_by_text_to_opt_back_in(text):
    subscribed()
    text("STOP")
    for body in ("HELP", "hello?", "who is this", "Thanks"):
        for reply in messages_in(text(body)):
            assert "START" not in reply and "YES" not in reply and "subscribe" not in reply.lower()


# -- editable keyword lists -------------------------------------------------------------------------


def test_a_keyword_added_by_staff_takes_effect(text):
    contact, [program] = subscribed()
    KeywordRule.objects.create(text="GENUG", meaning=KeywordMeaning.OPT_OUT, match=KeywordMatch.WORD)
    keywords_cache_clear()
    text("Genug!")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT


def test_the_fcc_words_opt_out_even_if_staff_disable_them(text):
    contact, [program] = subscribed()
    KeywordRule.objects.filter(text__in=["STOP", "QUIT"]).update(is_active=False)
    keywords_cache_clear()
    text("quit")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT


def test_a_missing_message_sid_is_a_bad_request(fake_twilio, client):
    params = {"From": PHONE, "Body": "STOP"}
    response = _raw_post(client, params, fake_twilio.sign(inbound_url(), params))
    assert response.status_code == 400
    assert InboundMessage.objects.count() == 0


# A number today's checks would refuse (a 983 area-code exchange the metadata doesn't list),
# as an older import may have stored it.
LEGACY = "+19836369960"


def test_stop_from_a_stored_number_that_fails_todays_checks_still_opts_out(text):
    from contacts.models import Contact
    from contacts.phones import phone_digest

    contact = Contact.objects.create(phone=LEGACY, phone_digest=phone_digest(LEGACY))
    program = make_program()
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.IMPORT, evidence={"reason": "old list"})
    response = text("STOP", from_=LEGACY)
    assert response.status_code == 200
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert InboundMessage.objects.get().contact == contact


def test_stop_from_an_unknown_number_we_would_never_text_is_stored_and_answered(text):
    response = text("STOP", from_=LEGACY)
    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert (message.contact, message.effect) == (None, "not a number we text: nothing to revoke")
    assert not ConsentEvent.objects.exists()


# -- nothing silently ignored, explained decisions ----------------------------------------------------


@pytest.mark.parametrize("body", ["hola", "👍", "Is this the same deal as last week?", "Disliked “Acme: 20% off”"])
def test_an_unclear_reply_from_a_subscribed_number_goes_to_review_with_the_reason(text, body):
    contact, [program] = subscribed()
    assert messages_in(text(body)) == []
    stored = InboundMessage.objects.get()
    assert stored.classification == InboundClassification.REVIEW and stored.review_decision == "pending"
    assert "live subscription" in stored.explanation
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


def test_a_pending_subscription_counts_as_subscribed_for_review(text):
    contact = make_contact(PHONE)
    program = make_program(double_opt_in=True)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1}, pending=True)
    text("hmm")
    assert InboundMessage.objects.get().classification == InboundClassification.REVIEW


@pytest.mark.parametrize("body", ["hola", "👍"])
def test_an_unclear_reply_from_a_number_with_nothing_to_revoke_is_left_alone(text, body):
    subscribed()
    text("STOP")
    text(body)
    assert InboundMessage.objects.latest("received_at").classification == InboundClassification.OTHER
    text(body, from_="+14155550178")  # unknown
    assert InboundMessage.objects.latest("received_at").classification == InboundClassification.OTHER


@pytest.mark.parametrize("body", ["Thanks!", "See you Saturday", "Don't stop the deals!", "I'll stop by later"])
def test_a_confident_non_revocation_from_a_subscriber_is_left_alone_with_its_reason(text, body):
    subscribed()
    text(body)
    stored = InboundMessage.objects.get()
    assert stored.classification == InboundClassification.OTHER and stored.review_decision == ""
    assert stored.explanation and stored.decided_by


def test_each_inbound_message_records_the_rule_that_decided_and_why(text):
    subscribed()
    text("please take my number off your list")
    stored = InboundMessage.objects.get()
    assert stored.classification == InboundClassification.OPT_OUT
    assert stored.decided_by == "pattern “take me off”"
    assert "plain language" in stored.explanation


def test_a_misspelt_stop_is_queued_with_the_guessed_meaning_and_never_opted_out(text):
    contact, [program] = subscribed()
    text("Stpo")
    stored = InboundMessage.objects.get()
    assert (stored.classification, stored.guess) == (InboundClassification.REVIEW, InboundClassification.OPT_OUT)
    assert "“stop”" in stored.explanation
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE


@pytest.mark.parametrize("body", ["Arrêt", "ＳＴＯＰ", "S T O P", "退订", "🛑", "Stopp!!", "No me envíen más mensajes"])
def test_opt_outs_in_other_languages_and_forms_revoke_and_the_body_is_stored_as_sent(text, body):
    contact, [program] = subscribed()
    assert len(messages_in(text(body))) == 1
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert InboundMessage.objects.get().body == body  # accents and width folded for matching only


# -- keyword rules can never shadow an opt-out word (issue 11, item 4) -----------------------------------


@pytest.mark.parametrize(
    ("rule", "meaning"), [("stop please", KeywordMeaning.OPT_IN), ("stop texting me", KeywordMeaning.HELP)]
)
def test_a_keyword_rule_that_would_shadow_an_opt_out_is_ignored(text, rule, meaning):
    contact, [program] = subscribed()
    KeywordRule.objects.create(text=rule, meaning=meaning, match=KeywordMatch.WORD)  # bypassing the admin's check
    keywords_cache_clear()
    text(rule)
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    text(rule)  # and again once opted out: never a re-subscription
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT
    assert not ConsentEvent.objects.filter(kind=ConsentKind.OPT_IN, method=ConsentMethod.KEYWORD).exists()


def test_a_rule_change_reaches_the_classifier_at_once(text):
    contact, [program] = subscribed()
    text("genug")
    assert InboundMessage.objects.get().classification == InboundClassification.REVIEW  # unclear, subscribed
    KeywordRule.objects.create(text="GENUG", meaning=KeywordMeaning.OPT_OUT, match=KeywordMatch.WORD)
    keywords_cache_clear()
    text("genug")
    assert subscription_status(contact=contact, program=program) == SubscriptionStatus.OPTED_OUT


# -- START from an unknown number -------------------------------------------------------------------------


def test_start_from_an_unknown_number_gets_one_reply_saying_how_to_join(text):
    program = make_program(name="Weekly offers")
    ProgramKeyword.objects.create(program=program, keyword="DEALS")
    [reply] = messages_in(text("START", from_="+14155550179"))
    assert "DEALS" in reply and "Weekly offers" in reply and "Msg&data rates" in reply
    assert not Contact.objects.filter(phone="+14155550179").exists()  # nothing recorded as consent
    assert not ConsentEvent.objects.exists()
    assert messages_in(text("start", from_="+14155550179")) == []  # one reply, not one per START


def test_start_from_an_unknown_number_is_pointed_at_the_sign_up_page_without_keywords(text, settings):
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    program = make_program()
    [reply] = messages_in(text("Start", from_="+14155550181"))
    assert f"https://sms.example.com/join/{program.slug}/" in reply


def test_start_from_a_number_on_the_do_not_text_list_gets_no_reply(text):
    from contacts.services import number_suppress

    make_program()
    number_suppress(phone="+14155550182", reason="erased on request")
    assert messages_in(text("START", from_="+14155550182")) == []


def test_start_from_an_unknown_number_gets_no_reply_when_there_is_nothing_to_join(text):
    assert messages_in(text("START", from_="+14155550183")) == []
