import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from contacts.ledger import GENESIS_HASH, ledger_append, ledger_check, ledger_seal, ledger_verify
from contacts.models import ConsentEvent, ConsentMethod, LedgerImmutableError, SubscriptionStatus
from contacts.selectors import consent_may_send, subscription_status
from contacts.services import consent_confirm_request, consent_opt_in, consent_opt_out
from contacts.tasks import ledger_seal_task

from .factories import make_contact, make_program

pytestmark = pytest.mark.django_db


def _opt_in(contact, program, **kw):
    return consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"disclosure": "text"}, **kw
    )


@pytest.mark.smoke
def test_events_are_appended_unsealed_and_the_sealer_chains_them_in_order():
    contact, program = make_contact(), make_program()
    first = _opt_in(contact, program)
    second = consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    assert (first.position, first.prev_hash, first.hash) == (None, None, None)
    assert ledger_check().unsealed == 2

    assert ledger_seal() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.position, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.position, second.prev_hash) == (2, first.hash)
    assert len(first.hash) == len(second.hash) == 64
    report = ledger_check()
    assert (report.checked, report.problem, report.unsealed) == (2, None, 0)


@pytest.mark.smoke
def test_sealing_again_extends_the_chain_and_never_reseals():
    contact, program = make_contact(), make_program()
    first = _opt_in(contact, program)
    ledger_seal()
    first.refresh_from_db()
    later = consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    assert ledger_seal_task() == 1
    later.refresh_from_db()
    assert (later.position, later.prev_hash) == (2, first.hash)
    assert ConsentEvent.objects.get(pk=first.pk).hash == first.hash
    assert ledger_seal() == 0
    assert list(ledger_verify()) == []


def test_the_sealer_works_in_batches_with_a_fixed_number_of_queries(django_assert_max_num_queries):
    contact, program = make_contact(), make_program()
    for _ in range(7):
        _opt_in(contact, program)
    # Per batch: savepoint, lock, head, batch, update, release; the last (short) batch ends the loop.
    with django_assert_max_num_queries(6 * 3):
        assert ledger_seal(batch_size=3) == 7
    assert list(ledger_verify()) == []
    assert list(ConsentEvent.objects.order_by("position").values_list("id", flat=True)) == sorted(
        ConsentEvent.objects.values_list("id", flat=True)
    )


def test_beat_seals_the_ledger_every_configured_interval():
    entry = django_settings.CELERY_BEAT_SCHEDULE["consent-ledger-seal"]
    assert entry["task"] == ledger_seal_task.name
    assert entry["schedule"] == django_settings.LEDGER_SEAL_SECONDS


def test_an_event_left_unsealed_too_long_is_reported(settings):
    settings.LEDGER_SEAL_OVERDUE_SECONDS = 60
    contact, program = make_contact(), make_program()
    _opt_in(contact, program)
    ledger_seal()
    with transaction.atomic():
        stale = ledger_append(contact=contact, program=program, kind="opt_out", method=ConsentMethod.KEYWORD,
                              evidence={"body": "STOP"}, at=timezone.now() - timedelta(seconds=61))  # fmt: skip
    report = ledger_check()
    assert report.checked == 1
    assert report.problem.event_id == stale.pk
    assert report.problem.overdue
    assert "waited 6" in report.problem.reason


def test_a_changed_event_is_detected_by_verify():
    contact, program = make_contact(), make_program()
    _opt_in(contact, program)
    tampered = consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    _opt_in(contact, program)
    ledger_seal()
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


def _refused(sql, params):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_database_refuses_raw_update_and_delete_of_ledger_rows():
    unsealed = _opt_in(make_contact(), make_program())
    for sql in ("UPDATE contacts_consentevent SET kind = 'opt_out' WHERE id = %s",
                "DELETE FROM contacts_consentevent WHERE id = %s"):  # fmt: skip
        _refused(sql, [unsealed.pk])
    ledger_seal()
    sealed = ConsentEvent.objects.get(pk=unsealed.pk)
    for sql in ("UPDATE contacts_consentevent SET kind = 'opt_out' WHERE id = %s",
                "DELETE FROM contacts_consentevent WHERE id = %s"):  # fmt: skip
        _refused(sql, [sealed.pk])
    assert ConsentEvent.objects.get(pk=sealed.pk).kind == "opt_in"


def test_database_allows_sealing_only_once_and_only_the_seal():
    contact, program = make_contact(), make_program()
    event = _opt_in(contact, program)
    seal = "UPDATE contacts_consentevent SET position = %s, prev_hash = %s, hash = %s{also} WHERE id = %s"
    # Sealing with a changed body is refused, and so is a partial seal.
    _refused(seal.format(also=", kind = 'opt_out'"), [1, GENESIS_HASH, "a" * 64, event.pk])
    _refused("UPDATE contacts_consentevent SET hash = %s WHERE id = %s", ["a" * 64, event.pk])
    ledger_seal()
    sealed = ConsentEvent.objects.get(pk=event.pk)
    # A second seal (re-chaining a sealed row) is refused.
    _refused(seal.format(also=""), [9, GENESIS_HASH, "b" * 64, event.pk])
    assert ConsentEvent.objects.get(pk=event.pk).hash == sealed.hash
    assert list(ledger_verify()) == []


@contextmanager
def _uncommitted_in_another_connection(change):
    """Run `change` in a transaction on another connection and hold it open; it commits as the block ends."""
    ready, release, result = threading.Event(), threading.Event(), {}

    def hold():
        try:
            with transaction.atomic():
                result["value"] = change()
                ready.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(timeout=60), "the other connection never finished its change"
        yield result
    finally:
        release.set()
        thread.join()


def _stop(contact):
    return consent_opt_out(contact=contact, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_consent_changes_of_different_contacts_do_not_wait_for_each_other():
    program = make_program()
    first, second = make_contact(), make_contact()
    _opt_in(first, program)
    _opt_in(second, program)
    with _uncommitted_in_another_connection(lambda: _stop(first)), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")  # waiting on the other change would raise
        _stop(second)
    assert not consent_may_send(contact=first, program=program)
    assert not consent_may_send(contact=second, program=program)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_event_committed_after_a_younger_one_was_sealed_takes_the_next_place():
    program = make_program()
    late_contact, early_contact = make_contact(), make_contact()
    with _uncommitted_in_another_connection(lambda: _opt_in(late_contact, program)) as late:
        younger = _opt_in(early_contact, program)  # a higher id, committed first
        assert ledger_seal() == 1
    assert ledger_seal() == 1
    older = ConsentEvent.objects.get(pk=late["value"].pk)
    younger.refresh_from_db()
    assert older.pk < younger.pk
    assert older.position > younger.position
    assert older.prev_hash == younger.hash
    assert list(ledger_verify()) == []


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
    request = _opt_in(contact, program, pending=True)
    assert not consent_may_send(contact=contact, program=program)
    confirmed = consent_confirm_request(
        contact=contact, request_event_id=request.pk, method=ConsentMethod.KEYWORD, evidence={"body": "YES"}
    )
    assert confirmed.kind == "opt_in" and confirmed.evidence["confirms_event"] == request.pk
    assert consent_may_send(contact=contact, program=program)


def test_verify_ledger_refuses_a_chunk_size_below_one():
    with pytest.raises(CommandError, match="--chunk-size must be at least 1") as error:
        call_command("verify_ledger", chunk_size=0)
    assert error.value.returncode == 1
