import pytest
from django.db import connection, transaction

from contacts.ledger import GENESIS_HASH, ledger_verify
from contacts.models import ConsentEvent, ConsentMethod, LedgerImmutableError, SubscriptionStatus
from contacts.selectors import consent_may_send, subscription_status
from contacts.services import consent_confirm_pending, consent_opt_in, consent_opt_out

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db


def _opt_in(contact, program, **kw):
    return consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"disclosure": "text"}, **kw
    )


@pytest.mark.smoke
def test_events_form_a_hash_chain_that_verifies():
    contact, program = make_contact(), make_program()
    first = _opt_in(contact, program)
    second = consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert list(ledger_verify()) == []


def test_a_changed_event_is_detected_by_verify():
    contact, program = make_contact(), make_program()
    _opt_in(contact, program)
    tampered = consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    _opt_in(contact, program)
    with connection.cursor() as cursor:
        # Bypass the append-only trigger the way a superuser with direct access could.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE contacts_consentevent SET kind = 'opt_in' WHERE id = %s", [tampered.pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    problems = list(ledger_verify())
    assert [p.event_id for p in problems] == [tampered.pk]


def test_orm_refuses_to_change_or_delete_ledger_rows():
    event = _opt_in(make_contact(), make_program())
    with pytest.raises(LedgerImmutableError):
        event.save()
    with pytest.raises(LedgerImmutableError):
        ConsentEvent.objects.filter(pk=event.pk).update(kind="opt_out")
    with pytest.raises(LedgerImmutableError):
        ConsentEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(LedgerImmutableError):
        event.delete()


def test_database_refuses_raw_update_and_delete_of_ledger_rows():
    from django.db import DatabaseError

    event = _opt_in(make_contact(), make_program())
    for sql in ("UPDATE contacts_consentevent SET kind = 'opt_out' WHERE id = %s",
                "DELETE FROM contacts_consentevent WHERE id = %s"):  # fmt: skip
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    assert ConsentEvent.objects.get(pk=event.pk).kind == "opt_in"


@pytest.mark.smoke
def test_consent_is_per_program_and_revoke_all_covers_every_program(settings):
    settings.CONSENT_OPT_OUT_SCOPE = "all"
    contact, deals, news = make_contact(), make_program(), make_program()
    _opt_in(contact, deals)
    assert consent_may_send(contact=contact, program=deals)
    assert not consent_may_send(contact=contact, program=news)
    _opt_in(contact, news)
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"}, program=deals)
    assert subscription_status(contact=contact, program=deals) == SubscriptionStatus.OPTED_OUT
    assert subscription_status(contact=contact, program=news) == SubscriptionStatus.OPTED_OUT
    assert ConsentEvent.objects.filter(kind="opt_out").get().program is None


def test_program_scoped_opt_out_when_the_setting_says_so(settings):
    settings.CONSENT_OPT_OUT_SCOPE = "program"
    contact, deals, news = make_contact(), make_program(), make_program()
    _opt_in(contact, deals)
    _opt_in(contact, news)
    consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"}, program=deals)
    assert not consent_may_send(contact=contact, program=deals)
    assert consent_may_send(contact=contact, program=news)


def test_double_opt_in_is_pending_until_confirmed():
    contact, program = make_contact(), make_program(double_opt_in=True)
    _opt_in(contact, program, pending=True)
    assert not consent_may_send(contact=contact, program=program)
    confirmed = consent_confirm_pending(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "YES"})
    assert [e.kind for e in confirmed] == ["opt_in"]
    assert consent_may_send(contact=contact, program=program)
