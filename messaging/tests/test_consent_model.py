"""Model-based test: random sequences of every consent action, checked against a small reference model.

The model below is written from the rules (README, "One gate for every text" and
"Consent comes back only by the person's own act"), not from the product's code.
It drives the product through its real entry points (the public form, the signed
webhook, the admin's services, the CSV import, the gate) against PostgreSQL,
Redis and the HTTP fake of Twilio, and after every step asserts:

- the texts that reached the person (Twilio's record, plus replies in webhook
  answers) are exactly the ones the model expects, and no number whose last own
  act was an opt-out got anything but its one opt-out confirmation and HELP replies;
- every contact's subscription state equals the model's.
"""

import io
import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from hypothesis import HealthCheck, assume, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from campaigns import services as campaign_services
from campaigns.dispatch import campaign_send_batch
from campaigns.materialize import campaign_audience_build
from campaigns.models import Campaign, CampaignStatus
from contacts.forms import ContactAdminForm
from contacts.imports import ImportRejected, contacts_import_csv
from contacts.models import ConsentEvent, ConsentMethod, Contact, ProgramKeyword, Subscription
from contacts.services import (
    ConsentOnBehalf,
    consent_opt_in_on_behalf,
    consent_opt_out,
    contact_update_phone_facts,
    number_suppress,
)
from contacts.tests.factories import make_program
from messaging.models import KeywordMatch, KeywordMeaning, KeywordRule, MessageKind, MessageStatus, OutboundMessage
from messaging.selectors import keywords_cache_clear
from messaging.services import consent_text_queue
from messaging.spool import inbound_spool_apply, inbound_spool_clear, inbound_spool_waiting
from signup.disclosure import disclosure_compose
from testing.users import MARKETING, staff_user_make

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
pytestmark = [pytest.mark.django_db, pytest.mark.skipif(not ON_POSTGRES, reason="the model runs on PostgreSQL")]

NUMBERS = ("+14155550301", "+14155550302", "+14155550303")
PROGRAMS = ("deals", "vip")  # deals: single opt-in, keyword DEALS; vip: double opt-in
DOUBLE_OPT_IN = {"deals": False, "vip": True}
STOPS = ("STOP", "stop please", "Unsubscribe", "cancel", "STOP texting me", "quit")
STARTS = ("START", "unstop")
# Replies that only inform the person who just texted; the model doesn't count them except for HELP.
INFORMATIONAL = {MessageKind.HELP_REPLY}
ALLOWED_AFTER_OPT_OUT = {MessageKind.STOP_CONFIRMATION, MessageKind.HELP_REPLY}


# --- The reference model ---------------------------------------------------------------------------


@dataclass
class Sub:
    status: str  # "pending", "active", "opted_out"
    event: int  # the model's id of the event that set this state
    stopped_by: int = 0  # the opt-out event that stopped it


@dataclass
class Model:
    contact_at: dict = field(default_factory=dict)  # number -> contact key
    subs: dict = field(default_factory=dict)  # (contact key, program) -> Sub
    opt_outs_at: dict = field(default_factory=dict)  # number -> [event ids] (recorded with that number)
    own_opt_ins_at: dict = field(default_factory=dict)  # number -> [event ids] of opt-ins texted by the person
    ever_opted_out: set = field(default_factory=set)  # contact keys with any opt-out on record
    suppressed: set = field(default_factory=set)
    last_own_act: dict = field(default_factory=dict)  # number -> "opt_out" | "opt_in"
    requests: Counter = field(default_factory=Counter)  # contact key -> "reply YES" texts handed over (today)
    latest_request: dict = field(default_factory=dict)  # contact key -> (program, event) last texted
    codes: dict = field(default_factory=dict)  # number -> [(contact key, program, code)] the person knows
    next_event: int = 0
    next_contact: int = 0

    def event(self) -> int:
        self.next_event += 1
        return self.next_event

    def contact(self, number) -> int:
        if number not in self.contact_at:
            self.next_contact += 1
            self.contact_at[number] = self.next_contact
        return self.contact_at[number]

    def live(self, key) -> bool:
        return any(s.status in ("pending", "active") for (k, _), s in self.subs.items() if k == key)

    def asked_back_blocked(self, number) -> bool:
        """The number's latest opt-out came after its latest own opt-in by text."""
        outs, ins = self.opt_outs_at.get(number, []), self.own_opt_ins_at.get(number, [])
        return bool(outs) and max(outs) > max(ins, default=0)

    def may_get(self, number, kind) -> bool:
        if number in self.suppressed and kind not in ALLOWED_AFTER_OPT_OUT:
            return False
        return not (kind == MessageKind.OPT_IN_REQUEST and self.asked_back_blocked(number))

    def opt_out(self, number, *, own: bool) -> bool:
        """Everything of the contact at `number` stops. True when it was already all stopped."""
        key = self.contact(number)
        already = not self.live(key) and key in self.ever_opted_out
        e = self.event()
        for (k, p), sub in list(self.subs.items()):
            if k == key and sub.status != "opted_out":
                self.subs[(k, p)] = Sub("opted_out", e, stopped_by=e)
        self.opt_outs_at.setdefault(number, []).append(e)
        self.ever_opted_out.add(key)
        if own:
            self.last_own_act[number] = "opt_out"
        return already

    def opt_in_own(self, number, key, program) -> None:
        e = self.event()
        self.subs[(key, program)] = Sub("active", e)
        self.own_opt_ins_at.setdefault(number, []).append(e)

    def restore(self, number) -> list[str]:
        key = self.contact_at[number]
        stopped = {p: s for (k, p), s in self.subs.items() if k == key and s.status == "opted_out"}
        if not stopped:
            return []
        latest = max(s.stopped_by for s in stopped.values())
        restored = sorted(p for p, s in stopped.items() if s.stopped_by == latest)
        for program in restored:
            self.opt_in_own(number, key, program)
        return restored


# --- The machine -------------------------------------------------------------------------------------


def machine_for(client, fake, capture):
    class ConsentMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self._example = transaction.atomic()
            self._example.__enter__()
            self.model = Model()
            self.programs = {
                "deals": make_program(slug="deals", double_opt_in=False),
                "vip": make_program(slug="vip", double_opt_in=True),
            }
            ProgramKeyword.objects.create(program=self.programs["deals"], keyword="DEALS")
            self.staff = staff_user_make(MARKETING)
            self.seen_sids = {m["sid"] for m in fake.messages()}
            self.seen_replies = set(
                OutboundMessage.objects.filter(status=MessageStatus.REPLIED).values_list("pk", flat=True)
            )
            self.expected = Counter()
            self.step_opt_outs = Counter()  # number -> STOPs in this step that should be confirmed

        def teardown(self):
            transaction.set_rollback(True)
            self._example.__exit__(None, None, None)
            inbound_spool_clear()
            keywords_cache_clear()

        # -- helpers ---------------------------------------------------------------------------------

        def expect(self, number, kind, n=1):
            if self.model.may_get(number, kind):
                self.expected[(number, kind)] += n

        def text(self, number, body, **extra):
            with capture(execute=True):
                response = fake.post_inbound(
                    settings.PUBLIC_BASE_URL + "/sms/inbound/", number, body, client=client, **extra
                )
            assert response.status_code == 200, response.content
            return response

        def _pending(self, number, key, program, event):
            """A sign-up waits for its YES; the "reply YES" text goes out when the rules allow it."""
            m = self.model
            m.subs[(key, program)] = Sub("pending", event)
            if m.may_get(number, MessageKind.OPT_IN_REQUEST) and m.requests[key] < 3:
                self.expect(number, MessageKind.OPT_IN_REQUEST)
                m.requests[key] += 1
                m.latest_request[key] = (program, event)

        def product_contact(self, number):
            return Contact.objects.filter(phone=number).first()

        # -- rules: the public form --------------------------------------------------------------------

        @rule(number=st.sampled_from(NUMBERS), program=st.sampled_from(PROGRAMS), by_person=st.booleans())
        def sign_up_on_the_web(self, number, program, by_person):
            m = self.model
            key = m.contact(number)
            current = m.subs.get((key, program))
            data = {"phone": number, "first_name": "", "consent": "on", "website": "",
                    "disclosure_sha256": disclosure_compose(self.programs[program]).sha256}  # fmt: skip
            with capture(execute=True):
                response = client.post(f"/join/{program}/", data, REMOTE_ADDR="198.51.100.7")
            assert response.status_code == 302, response.content.decode()[:500]
            if current and current.status in ("pending", "active"):
                return  # nothing new: no event, no text
            needs_yes = DOUBLE_OPT_IN[program] or bool(m.opt_outs_at.get(number)) or number in m.suppressed
            e = m.event()
            if needs_yes:
                self._pending(number, key, program, e)
                if by_person:
                    code = ConsentEvent.objects.filter(phone=number).order_by("-id").first().evidence["confirm_code"]
                    m.codes.setdefault(number, []).append((key, program, code, e))
            else:
                m.subs[(key, program)] = Sub("active", e)
                self.expect(number, MessageKind.CONFIRMATION)
            if by_person:
                m.last_own_act[number] = "opt_in"

        # -- rules: texts from the person ------------------------------------------------------------

        @rule(number=st.sampled_from(NUMBERS), body=st.sampled_from(STOPS))
        def text_stop(self, number, body):
            already = self.model.opt_out(number, own=True)
            self.text(number, body)
            if not already:
                self.expect(number, MessageKind.STOP_CONFIRMATION)

        @rule(number=st.sampled_from(NUMBERS), body=st.sampled_from(STARTS))
        def text_start(self, number, body):
            m = self.model
            self.text(number, body)
            if number not in m.contact_at:
                return
            for _ in m.restore(number):
                self.expect(number, MessageKind.CONFIRMATION)
            m.last_own_act[number] = "opt_in"

        @rule(number=st.sampled_from(NUMBERS))
        def text_yes(self, number):
            m = self.model
            self.text(number, "Yes")
            if number not in m.contact_at:
                return
            key = m.contact_at[number]
            m.last_own_act[number] = "opt_in"
            request = m.latest_request.get(key)
            if request is None:
                for _ in m.restore(number):
                    self.expect(number, MessageKind.CONFIRMATION)
                return
            program, event = request
            sub = m.subs.get((key, program))
            if sub and sub.status == "pending" and sub.event == event:
                m.opt_in_own(number, key, program)
                self.expect(number, MessageKind.CONFIRMATION)

        @rule(data=st.data())
        def text_yes_with_the_code_the_page_showed(self, data):
            m = self.model
            known = [(n, c) for n, codes in m.codes.items() for c in codes]
            assume(known)
            number, (key, program, code, event) = data.draw(st.sampled_from(known))
            self.text(number, f"YES {code}")
            m.last_own_act[number] = "opt_in"
            sub = m.subs.get((key, program))
            same = m.contact_at.get(number) == key and sub and sub.status == "pending"
            # The code names its sign-up; another pending one with the same code (1 in 10,000) can't be told apart.
            if same and sub.event == event:
                m.opt_in_own(number, key, program)
                self.expect(number, MessageKind.CONFIRMATION)

        @rule(number=st.sampled_from(NUMBERS))
        def text_help(self, number):
            response = self.text(number, "HELP")
            assert b"<Message>" in response.content

        @rule(number=st.sampled_from(NUMBERS))
        def text_the_program_keyword(self, number):
            m = self.model
            key = m.contact(number)
            self.text(number, "deals")
            m.last_own_act[number] = "opt_in"
            sub = m.subs.get((key, "deals"))
            if not (sub and sub.status == "active"):
                m.opt_in_own(number, key, "deals")
                self.expect(number, MessageKind.CONFIRMATION)

        @rule(number=st.sampled_from(NUMBERS), then_campaign=st.booleans())
        def text_stop_while_the_database_is_down(self, number, then_campaign):
            already = self.model.opt_out(number, own=True)

            def unreachable(execute, sql, params, many, context):
                if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
                    return execute(sql, params, many, context)
                raise OperationalError("server closed the connection unexpectedly")

            with connection.execute_wrapper(unreachable):
                response = fake.post_inbound(settings.PUBLIC_BASE_URL + "/sms/inbound/", number, "STOP",
                                             client=client)  # fmt: skip
            assert response.status_code == 200 and b"<Message>" not in response.content
            assert inbound_spool_waiting() == 1
            if not already:
                self.expect(number, MessageKind.STOP_CONFIRMATION)
            if then_campaign:  # the database is back and a campaign goes first: the gate applies the STOP first
                self.send_a_campaign("deals")
            with capture(execute=True):  # what beat does anyway (a campaign with nobody to text sent nothing)
                assert inbound_spool_apply()

        # -- rules: staff ---------------------------------------------------------------------------------

        @rule(number=st.sampled_from(NUMBERS), program=st.sampled_from(PROGRAMS), exception=st.booleans())
        def staff_record_consent(self, number, program, exception):
            m = self.model
            assume(number in m.contact_at)
            contact = self.product_contact(number)
            consent = ConsentOnBehalf(
                consented_at=timezone_now(), evidence={"reason": "Recorded call #1"},
                double_opt_in_exception="Confirmed on the recorded call" if exception else "",
            )  # fmt: skip
            refused = number in m.suppressed or (exception and DOUBLE_OPT_IN[program] and m.opt_outs_at.get(number))
            try:
                with capture(execute=True), transaction.atomic():
                    event = consent_opt_in_on_behalf(
                        contact=contact, program=self.programs[program], method=ConsentMethod.ADMIN,
                        actor=self.staff, consent=consent,
                    )  # fmt: skip
                    if event is not None:
                        consent_text_queue(event=event)
            except Exception as error:
                assert refused, f"refused unexpectedly: {error}"
                return
            assert not refused, "recorded consent the rules refuse"
            self._record_on_behalf(number, program, exception, text_active=True)

        @rule(number=st.sampled_from(NUMBERS), program=st.sampled_from(PROGRAMS), old=st.booleans())
        def import_a_row(self, number, program, old):
            m = self.model
            consented_at = "2020-01-01T00:00:00Z" if old else timezone_now().isoformat()
            csv = f"phone,program,consented_at,consent_method,evidence\n{number},{program},{consented_at},form,signed\n"
            refused = number in m.suppressed or (old and bool(m.opt_outs_at.get(number)))
            try:
                with capture(execute=True):
                    contacts_import_csv(file=io.BytesIO(csv.encode()), actor=self.staff, file_name="m.csv")
            except ImportRejected as error:
                assert refused, f"refused unexpectedly: {error.errors}"
                return
            assert not refused, "imported consent the rules refuse"
            m.contact(number)
            self._record_on_behalf(number, program, False, text_active=False)

        def _record_on_behalf(self, number, program, exception, *, text_active):
            m = self.model
            key = m.contact_at[number]
            current = m.subs.get((key, program))
            if current and current.status in ("pending", "active"):
                return  # already subscribed or waiting for its YES: nothing recorded
            needs_yes = bool(m.opt_outs_at.get(number)) or (DOUBLE_OPT_IN[program] and not exception)
            e = m.event()
            if needs_yes:
                self._pending(number, key, program, e)
            else:
                m.subs[(key, program)] = Sub("active", e)
                if text_active:
                    self.expect(number, MessageKind.CONFIRMATION)

        @rule(number=st.sampled_from(NUMBERS))
        def staff_opt_out_on_request(self, number):
            assume(number in self.model.contact_at)
            self.model.opt_out(number, own=True)  # the person asked support to stop
            consent_opt_out(contact=self.product_contact(number), method=ConsentMethod.ADMIN, actor=self.staff,
                            evidence={"reason": "Called support and asked to stop"})  # fmt: skip

        @rule(source=st.sampled_from(NUMBERS), destination=st.sampled_from(NUMBERS))
        def staff_move_a_contact_to_another_number(self, source, destination):
            m = self.model
            assume(source in m.contact_at and destination not in m.contact_at)
            key = m.contact_at[source]
            contact = self.product_contact(source)
            form = ContactAdminForm(data={"phone": destination, "first_name": "", "last_name": "", "email": "",
                                          "attributes": "{}"}, instance=contact)  # fmt: skip
            if m.live(key):
                assert not form.is_valid(), "moved a contact whose consent names its number"
                return
            assert form.is_valid(), form.errors
            contact = form.save()
            contact_update_phone_facts(contact=contact)
            del m.contact_at[source]
            m.contact_at[destination] = key
            m.codes.pop(source, None)

        @rule(text=st.sampled_from(("stop please", "cancel it", "unsubscribe me", "end")),
              meaning=st.sampled_from((KeywordMeaning.OPT_IN, KeywordMeaning.HELP)),
              match=st.sampled_from((KeywordMatch.WORD, KeywordMatch.PHRASE)))  # fmt: skip
        def staff_add_a_keyword_rule_that_would_shadow_an_opt_out(self, text, meaning, match):
            KeywordRule.objects.get_or_create(text=text, match=match, defaults={"meaning": meaning})
            keywords_cache_clear()

        @rule(number=st.sampled_from(NUMBERS))
        def staff_suppress_a_number(self, number):
            number_suppress(phone=number, reason="erased on request")
            self.model.suppressed.add(number)

        @rule(number=st.sampled_from(NUMBERS), program=st.sampled_from(PROGRAMS))
        def staff_send_a_test(self, number, program):
            m = self.model
            key = m.contact_at.get(number)
            sub = m.subs.get((key, program))
            allowed = sub is not None and sub.status == "active" and number not in m.suppressed
            campaign = Campaign.objects.create(name="test", program=self.programs[program], body="SALE test")
            try:
                with capture(execute=True):
                    campaign_services.campaign_send_test(campaign=campaign, to=number, actor=self.staff)
            except Exception as error:
                assert not allowed, f"test refused unexpectedly: {error}"
                return
            assert allowed, "a test send went to a number without current consent"
            self.expect(number, MessageKind.TEST)

        @rule(program=st.sampled_from(PROGRAMS))
        def send_a_campaign(self, program):
            m = self.model
            for number, key in m.contact_at.items():
                sub = m.subs.get((key, program))
                if sub and sub.status == "active":
                    self.expect(number, MessageKind.CAMPAIGN)
            campaign = Campaign.objects.create(name="c", program=self.programs[program], body="SALE today")
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING)
            with capture(execute=True):
                campaign_audience_build(campaign_id=campaign.pk)
                while campaign_send_batch(campaign_id=campaign.pk).claimed:
                    pass

        # -- after every step --------------------------------------------------------------------------

        @invariant()
        def texts_are_exactly_the_expected_ones(self):
            reached = Counter()
            new = [msg for msg in fake.messages() if msg["sid"] not in self.seen_sids]
            self.seen_sids |= {msg["sid"] for msg in new}
            kinds = dict(OutboundMessage.objects.filter(sid__in=[msg["sid"] for msg in new]).values_list("sid", "kind"))
            for msg in new:
                assert msg["sid"] in kinds, f"a text Twilio has that we never recorded: {msg}"
                reached[(msg["to"], kinds[msg["sid"]])] += 1
            replies = OutboundMessage.objects.filter(status=MessageStatus.REPLIED).exclude(pk__in=self.seen_replies)
            for pk, to, kind in replies.values_list("pk", "to", "kind"):
                self.seen_replies.add(pk)
                reached[(to, kind)] += 1
            note(f"texts: {dict(reached)}; expected {dict(self.expected)}")
            for (number, kind), count in reached.items():
                if self.model.last_own_act.get(number) == "opt_out" or number in self.model.suppressed:
                    assert kind in ALLOWED_AFTER_OPT_OUT, f"{kind} reached {number}, whose last act was an opt-out"
                if kind == MessageKind.STOP_CONFIRMATION:
                    assert count <= 1, f"{count} opt-out confirmations to {number} at once"
            counted = Counter({k: v for k, v in reached.items() if k[1] not in INFORMATIONAL})
            assert counted == self.expected, f"texts {dict(counted)} != expected {dict(self.expected)}"
            self.expected = Counter()

        @invariant()
        def subscriptions_equal_the_model(self):
            m = self.model
            for number, key in m.contact_at.items():
                contact = self.product_contact(number)
                product = dict(Subscription.objects.filter(contact=contact).values_list("program__slug", "status"))
                model = {p: s.status for (k, p), s in m.subs.items() if k == key}
                assert product == model, f"{number}: product {product} != model {model}"

    return ConsentMachine


def timezone_now():
    from django.utils import timezone

    return timezone.now()


@pytest.fixture
def model_settings(settings, fake_twilio, eager_celery):
    settings.SIGNUP_RATE_LIMIT_PER_IP = "0/h"
    settings.SIGNUP_RATE_LIMIT_PER_PHONE = "0/h"
    settings.TEST_SEND_RATE_LIMIT = "0/h"
    settings.QUIET_HOURS_ENABLED = False
    settings.SEND_RATE_PER_SECOND = 0
    settings.FREQUENCY_CAP_COUNT = 0
    settings.CONSENT_OPT_OUT_SCOPE = "all"
    settings.DOUBLE_OPT_IN_REQUESTS_PER_DAY = 3
    return settings


def test_random_consent_histories_agree_with_the_reference_model(
    model_settings, client, fake_twilio, django_capture_on_commit_callbacks
):
    machine = machine_for(client, fake_twilio, django_capture_on_commit_callbacks)
    run_state_machine_as_test(
        machine,
        settings=hypothesis_settings(
            # Bounded for `make test`; CONSENT_MODEL_EXAMPLES=500 explores much further.
            max_examples=int(os.environ.get("CONSENT_MODEL_EXAMPLES", "30")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[
                HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much
            ],
            derandomize=True,
        ),
    )
