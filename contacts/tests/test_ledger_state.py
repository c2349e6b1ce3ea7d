"""`verify_ledger --state`: every subscription row must be what its contact's ledger events make it."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from contacts.ledger import ledger_seal, subscriptions_check, subscriptions_replay
from contacts.models import ConsentEvent, ConsentMethod, Subscription, SubscriptionStatus
from contacts.services import (
    consent_confirm_request,
    consent_expire_pending,
    consent_opt_in,
    consent_opt_out,
    consent_restore,
)

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db


def _confirm(contact, program):
    """The person's YES to the request for this program, if one waits."""
    pending = Subscription.objects.filter(contact=contact, program=program, status=SubscriptionStatus.PENDING).first()
    if pending is not None:
        consent_confirm_request(contact=contact, request_event_id=pending.last_event_id, method=ConsentMethod.KEYWORD,
                                evidence={"body": "YES"})  # fmt: skip


def _opt_in(contact, program, **kw):
    return consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1}, **kw)


def _stop(contact, program=None):
    return consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"}, program=program)


def _verify_state(**options) -> str:
    out = StringIO()
    call_command("verify_ledger", "--state", stdout=out, **options)
    return out.getvalue()


def _verify_state_fails() -> CommandError:
    with pytest.raises(CommandError) as error:
        _verify_state()
    return error.value


def _every_kind_of_history(settings):
    """Contacts whose histories use every kind of event and both opt-out scopes; some events left unsealed."""
    deals, news = make_program(), make_program(double_opt_in=True)
    settings.CONSENT_OPT_OUT_SCOPE = "program"
    stopped_deals = make_contact()
    _opt_in(stopped_deals, deals)
    _opt_in(stopped_deals, news)
    _stop(stopped_deals, deals)  # deals opted out, news still active
    settings.CONSENT_OPT_OUT_SCOPE = "all"
    revoked = make_contact()
    _opt_in(revoked, deals)
    _opt_in(revoked, news, pending=True)
    _stop(revoked)  # revoke-all: both opted out
    _opt_in(revoked, deals)  # back in to deals only
    confirmed, expired = make_contact(), make_contact()
    _opt_in(confirmed, news, pending=True)
    _confirm(confirmed, news)
    _opt_in(expired, news, pending=True)
    consent_expire_pending(now=timezone.now() + timedelta(days=30))
    ledger_seal()
    _stop(confirmed)  # unsealed: --state replays it too
    return {"stopped_deals": stopped_deals, "revoked": revoked, "deals": deals, "news": news}


@pytest.mark.smoke
def test_verify_ledger_state_passes_when_every_subscription_follows_the_ledger(settings):
    _every_kind_of_history(settings)
    statuses = sorted(Subscription.objects.values_list("status", flat=True))
    assert statuses == sorted(["opted_out", "active", "opted_out", "active", "opted_out", "expired"])
    out = _verify_state(chunk_size=2)
    assert "Consent ledger intact" in out
    assert "Subscriptions agree with the ledger: 6 subscription(s) replayed." in out


def test_verify_ledger_state_names_a_subscription_flipped_to_active_in_sql(settings):
    history = _every_kind_of_history(settings)
    flipped = Subscription.objects.get(contact=history["stopped_deals"], program=history["deals"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE contacts_subscription SET status = 'active' WHERE id = %s", [flipped.pk])
    error = _verify_state_fails()
    assert error.returncode == 5
    assert (
        f"subscription #{flipped.pk} (contact #{flipped.contact_id}, program #{flipped.program_id}) is active, "
        "but its ledger events make it opted_out"
    ) in str(error)


def test_verify_ledger_state_names_a_subscription_deleted_in_sql(settings):
    history = _every_kind_of_history(settings)
    contact, news = history["stopped_deals"], history["news"]
    Subscription.objects.filter(contact=contact, program=news).delete()
    error = _verify_state_fails()
    assert error.returncode == 5
    expected = f"contact #{contact.pk} has no subscription to program #{news.pk}, but its ledger events make it active"
    assert expected in str(error)


def test_verify_ledger_state_names_a_subscription_no_ledger_event_creates(settings):
    history = _every_kind_of_history(settings)
    contact, other = history["revoked"], make_program()
    made_up = Subscription.objects.create(
        contact=contact, program=other, status=SubscriptionStatus.ACTIVE,
        last_event=ConsentEvent.objects.filter(contact=contact).first(), updated_at=timezone.now(),
    )  # fmt: skip
    error = _verify_state_fails()
    assert error.returncode == 5
    expected = f"subscription #{made_up.pk} (contact #{contact.pk}, program #{other.pk}) is active, but no ledger event"
    assert expected in str(error)


def test_verify_ledger_state_runs_only_on_an_intact_chain(settings):
    history = _every_kind_of_history(settings)
    Subscription.objects.filter(contact=history["stopped_deals"]).update(status="active")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE contacts_consentevent SET kind = 'opt_in' WHERE position = 3")
        cursor.execute("SET session_replication_role = DEFAULT")
    assert _verify_state_fails().returncode == 2  # the chain's problem comes first


def test_replay_of_one_contact_follows_the_rules_the_services_write_by():
    deals, news, events = 1, 2, 3
    assert subscriptions_replay([]) == {}
    # An opt-out for a program the contact never joined creates nothing, revoke-all only what exists.
    assert subscriptions_replay([(deals, "opt_out"), (news, "pending"), (None, "opt_out")]) == {news: "opted_out"}
    assert subscriptions_replay(
        [(deals, "opt_in"), (news, "pending"), (news, "expired"), (events, "opt_in"), (events, "opt_out")]
    ) == {deals: "active", news: "expired", events: "opted_out"}
    assert subscriptions_replay([(deals, "opt_in"), (None, "opt_out"), (deals, "opt_in")]) == {deals: "active"}
    with pytest.raises(ValueError, match="'opt_in' event for program None"):
        subscriptions_replay([(None, "opt_in")])


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["opt_in", "pending", "confirm", "restore", "stop_program", "stop_all", "expire"]),
        st.integers(0, 1),  # which contact
        st.integers(0, 1),  # which program
        st.sampled_from(["all", "program"]),  # CONSENT_OPT_OUT_SCOPE at that moment
    ),
    max_size=12,
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_any_sequence_of_consent_changes_replays_to_the_subscriptions_the_services_wrote(settings, actions):
    with transaction.atomic():
        contacts, programs = [make_contact(), make_contact()], [make_program(), make_program()]
        for action, c, p, scope in actions:
            settings.CONSENT_OPT_OUT_SCOPE = scope
            contact, program = contacts[c], programs[p]
            if action in ("opt_in", "pending"):
                _opt_in(contact, program, pending=action == "pending")
            elif action == "confirm":
                _confirm(contact, program)
            elif action == "restore":
                consent_restore(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "START"})
            elif action == "expire":
                consent_expire_pending(now=timezone.now() + timedelta(days=30))
            else:
                _stop(contact, program if action == "stop_program" else None)
        assert subscriptions_check(chunk_size=3).problem is None
        for contact in contacts:
            events = ConsentEvent.objects.filter(contact=contact).order_by("id").values_list("program_id", "kind")
            rows = dict(Subscription.objects.filter(contact=contact).values_list("program_id", "status"))
            assert subscriptions_replay(events) == rows
        transaction.set_rollback(True)


@pytest.mark.smoke
def test_the_state_check_reads_two_streams_whatever_the_number_of_contacts():
    program = make_program()

    def contacts(n):
        for _ in range(n):
            contact = make_contact()
            _opt_in(contact, program)
            _stop(contact)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            report = subscriptions_check(chunk_size=2)
        assert report.problem is None
        return report.checked, len(captured)

    contacts(3)
    few = queries()
    contacts(27)
    many = queries()
    assert (few[0], many[0]) == (3, 30)
    assert few[1] == many[1]  # no query per contact or per chunk of rows
