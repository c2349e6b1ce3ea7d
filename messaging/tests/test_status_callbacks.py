"""`POST /sms/status/`: signed, monotonic, and acting on the provider's error codes."""

import threading
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections, transaction

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, SubscriptionStatus
from contacts.selectors import subscription_status
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.backends import SendResult
from messaging.backends.locmem import LocmemBackend
from messaging.models import EarlyStatus, MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import (
    _records_sent,
    early_statuses_purge,
    outbox_claim,
    outbox_send_claimed,
    outbox_status_apply,
)
from messaging.spool import status_spool_apply, status_spool_waiting
from messaging.tests.factories import confirmation
from smsconsent.redis import redis_client
from testing.fake_twilio import FakeTwilio

pytestmark = pytest.mark.django_db


def status_url():
    return settings.PUBLIC_BASE_URL + "/sms/status/"


@pytest.fixture
def sent(fake_twilio):
    """A confirmation the fake accepted, with its contact subscribed to two programs."""
    contact = make_contact()
    programs = [make_program(), make_program()]
    consent_opt_in(contact=contact, program=programs[1], method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    message = confirmation(contact, programs[0], body="Welcome")
    outcome = outbox_send_claimed([outbox_claim(message_id=message.pk)])[0]
    assert outcome.sent
    outcome.message.programs = programs
    return outcome.message


@pytest.fixture
def callback(fake_twilio, client):
    def post(sid, status, error_code=None, **extra):
        response = fake_twilio.post_status_callback(status_url(), sid, status, error_code, client=client, **extra)
        assert response.status_code == 200
        return response

    return post


def status_of(message) -> str:
    return OutboundMessage.objects.values_list("status", flat=True).get(pk=message.pk)


def test_statuses_move_forward_through_the_lifecycle(sent, callback):
    for status in ("sending", "sent", "delivered"):
        callback(sent.sid, status)
        assert status_of(sent) == status


@pytest.mark.smoke
def test_a_late_sent_never_moves_a_delivered_message_backwards(sent, callback):
    callback(sent.sid, "delivered")
    callback(sent.sid, "sent")
    callback(sent.sid, "sending")
    callback(sent.sid, "queued")
    assert status_of(sent) == MessageStatus.DELIVERED


def test_repeated_callbacks_change_nothing_the_second_time(sent):
    assert outbox_status_apply(sid=sent.sid, status="sent") is True
    assert outbox_status_apply(sid=sent.sid, status="sent") is False
    assert status_of(sent) == MessageStatus.SENT


def test_final_states_never_change_but_delivered_may_become_read(sent, callback):
    callback(sent.sid, "undelivered", 30003)
    callback(sent.sid, "delivered")
    callback(sent.sid, "read")
    assert status_of(sent) == MessageStatus.UNDELIVERED
    other = OutboundMessage.objects.create(kind=MessageKind.TEST, to=sent.to, body="x", sid="SM" + "e" * 32,
                                           status=MessageStatus.DELIVERED)  # fmt: skip
    callback(other.sid, "read")
    assert status_of(other) == MessageStatus.READ


def test_an_unknown_message_sid_is_answered_200_and_ignored(callback):
    callback("SM" + "0" * 32, "delivered", To="+14155550100")
    assert OutboundMessage.objects.count() == 0


def test_an_unknown_status_changes_nothing(sent, callback):
    callback(sent.sid, "teleported")
    assert status_of(sent) == MessageStatus.QUEUED


@pytest.mark.parametrize("signature", [None, "forged"])
def test_a_callback_without_a_valid_signature_is_rejected_and_changes_nothing(sent, client, signature):
    params = {"MessageSid": sent.sid, "MessageStatus": "failed", "ErrorCode": "21610"}
    if signature == "forged":
        signature = FakeTwilio(auth_token="wrong").sign(status_url(), params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    response = client.post("/sms/status/", data=urlencode(params), content_type="application/x-www-form-urlencoded",
                           headers=headers)  # fmt: skip
    assert response.status_code == 403
    assert status_of(sent) == MessageStatus.QUEUED
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 0


def test_21610_in_a_status_callback_opts_the_number_out_of_every_program(sent, callback):
    callback(sent.sid, "failed", 21610)
    assert status_of(sent) == MessageStatus.FAILED
    for program in sent.programs:
        assert subscription_status(contact=sent.contact, program=program) == SubscriptionStatus.OPTED_OUT
    event = ConsentEvent.objects.get(kind=ConsentKind.OPT_OUT)
    assert event.method == ConsentMethod.CARRIER
    assert event.evidence["message_sid"] == sent.sid
    # Twilio repeats callbacks: the opt-out is recorded once.
    callback(sent.sid, "failed", 21610)
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 1


def test_30006_in_a_status_callback_marks_the_number_undeliverable(sent, callback):
    callback(sent.sid, "undelivered", 30006)
    contact = Contact.objects.get(pk=sent.contact_id)
    assert contact.undeliverable_at is not None
    assert contact.undeliverable_reason.startswith("30006")
    assert OutboundMessage.objects.get(pk=sent.pk).error_code == "30006"


def test_a_transient_delivery_error_only_records_the_code(sent, callback):
    callback(sent.sid, "undelivered", 30003)
    assert Contact.objects.get(pk=sent.contact_id).undeliverable_at is None
    assert ConsentEvent.objects.filter(kind=ConsentKind.OPT_OUT).count() == 0


class CallbackFirstBackend(LocmemBackend):
    """The provider answers the create only after its own "delivered" callback has reached us."""

    post_callback = None

    def send(self, sms):
        result = super().send(sms)
        self.post_callback(result.sid, "delivered")
        return result


def test_a_callback_that_beats_the_sid_to_the_database_is_applied_when_the_sid_is_stored(
    settings, callback, django_capture_on_commit_callbacks
):
    settings.SMS_BACKEND = "messaging.tests.test_status_callbacks.CallbackFirstBackend"
    CallbackFirstBackend.post_callback = staticmethod(callback)
    message = confirmation(make_contact(), make_program(), body="Welcome")
    with django_capture_on_commit_callbacks(execute=True):  # parked receipts are settled once the SID commits
        outcome = outbox_send_claimed([outbox_claim(message_id=message.pk)])[0]
    assert outcome.sent
    assert status_of(message) == MessageStatus.DELIVERED
    assert not EarlyStatus.objects.exists()


def _claimed_message() -> OutboundMessage:
    contact = make_contact()
    return OutboundMessage.objects.create(kind=MessageKind.CONFIRMATION, contact=contact, to=str(contact.phone),
                                          body="Welcome", status=MessageStatus.CLAIMED)  # fmt: skip


def _sid_stored(message: OutboundMessage, sid: str) -> None:
    """What a send worker writes once Twilio has accepted the message."""
    _records_sent([(message, SendResult(sid=sid, status="queued", segments=1))])


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_receipt_parked_while_the_worker_commits_its_sid_is_applied_when_it_commits():
    message = _claimed_message()
    sid = "SM" + "e" * 32

    def receipt_from_another_connection():
        try:
            outbox_status_apply(sid=sid, status="delivered")
        finally:
            connections.close_all()

    with transaction.atomic():  # the worker: SID stored, not yet committed
        _sid_stored(message, sid)
        receipt = threading.Thread(target=receipt_from_another_connection)
        receipt.start()
        receipt.join()
        assert EarlyStatus.objects.filter(sid=sid).exists(), "the receipt could not see the SID, so it parked"
    assert status_of(message) == MessageStatus.DELIVERED
    assert not EarlyStatus.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_receipt_whose_sid_commits_between_its_update_and_its_check_is_applied():
    message = _claimed_message()
    sid = "SM" + "d" * 32
    stored, commit_now, committed = threading.Event(), threading.Event(), threading.Event()

    def worker_on_another_connection():
        try:
            with transaction.atomic():
                _sid_stored(message, sid)
                stored.set()
                commit_now.wait(timeout=60)
            committed.set()
        finally:
            connections.close_all()

    def worker_commits_after_the_first_update(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("UPDATE") and not commit_now.is_set():
            commit_now.set()
            assert committed.wait(timeout=60)
        return result

    worker = threading.Thread(target=worker_on_another_connection)
    worker.start()
    try:
        assert stored.wait(timeout=60)
        with connection.execute_wrapper(worker_commits_after_the_first_update):
            assert outbox_status_apply(sid=sid, status="delivered")
    finally:
        commit_now.set()
        worker.join()
    assert status_of(message) == MessageStatus.DELIVERED
    assert not EarlyStatus.objects.exists()


def test_callbacks_for_unknown_sids_are_kept_only_for_a_while(callback):
    callback("SM" + "f" * 32, "delivered")
    assert EarlyStatus.objects.filter(sid="SM" + "f" * 32).exists()
    assert early_statuses_purge(older_than=timedelta(0)) == 1


def test_receipts_can_go_to_a_host_of_their_own_and_are_signed_over_it(settings, fake_twilio, client):
    settings.STATUS_CALLBACK_BASE_URL = "https://receipts.example.com/"
    message = confirmation(make_contact(), make_program(), body="Welcome")
    outcome = outbox_send_claimed([outbox_claim(message_id=message.pk)])[0]
    [request] = fake_twilio.create_requests()
    assert request.form["StatusCallback"] == "https://receipts.example.com/sms/status/"

    # Signed over the main public origin: not the URL Twilio was given, so refused.
    forged = fake_twilio.post_status_callback(status_url(), outcome.message.sid, "delivered", client=client)
    assert forged.status_code == 403
    assert status_of(outcome.message) == MessageStatus.QUEUED
    good = fake_twilio.post_status_callback(
        "https://receipts.example.com/sms/status/", outcome.message.sid, "delivered", client=client
    )
    assert good.status_code == 200
    assert status_of(outcome.message) == MessageStatus.DELIVERED


def _database_away(execute, sql, params, many, context):
    raise OperationalError("the database went away")


def test_a_receipt_the_database_cannot_take_is_kept_answered_200_and_applied_later(sent, fake_twilio, client):
    with connection.execute_wrapper(_database_away):
        response = fake_twilio.post_status_callback(status_url(), sent.sid, "delivered", client=client)
    assert response.status_code == 200
    assert status_spool_waiting() == 1
    assert status_of(sent) == MessageStatus.QUEUED
    assert status_spool_apply() == 1
    assert status_of(sent) == MessageStatus.DELIVERED
    assert status_spool_waiting() == 0
    assert status_spool_apply() == 0  # applied once; a repeat of the same receipt would change nothing


def test_a_receipt_that_can_be_kept_nowhere_is_answered_503_so_a_retry_can_bring_it_again(
    sent, fake_twilio, client, settings
):
    redis_url, settings.REDIS_URL = settings.REDIS_URL, "redis://127.0.0.1:9/0"  # nothing listens there
    redis_client.cache_clear()
    try:
        with connection.execute_wrapper(_database_away):
            response = fake_twilio.post_status_callback(status_url(), sent.sid, "delivered", client=client)
    finally:
        settings.REDIS_URL = redis_url
        redis_client.cache_clear()
    assert response.status_code == 503
    retry = fake_twilio.post_status_callback(status_url(), sent.sid, "delivered", client=client)
    assert retry.status_code == 200
    assert status_of(sent) == MessageStatus.DELIVERED
