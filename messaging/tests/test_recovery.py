"""Texts of every kind are recovered when their task is lost or their worker dies, and still sent only once.

Also: the daily bound on "reply YES" requests to one number.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from contacts.models import ConsentMethod
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.backends import OutgoingSMS, get_backend
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import outbox_claim, outbox_queue, outbox_recover, outbox_send_claimed
from messaging.services import consent_text_queue

pytestmark = pytest.mark.django_db


def later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds))


def a_confirmation_queued(capture):
    contact, program = make_contact(), make_program()
    event = consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"f": 1})
    with capture(execute=False):  # the task is enqueued after commit… and lost (a broker restart, say)
        return outbox_queue(kind=MessageKind.CONFIRMATION, body="Welcome!", contact=contact, program=program,
                            consent_event=event)  # fmt: skip


def test_a_confirmation_whose_task_was_lost_is_sent_by_recovery_once(
    fake_twilio, eager_celery, django_capture_on_commit_callbacks, settings
):
    message = a_confirmation_queued(django_capture_on_commit_callbacks)
    assert outbox_recover() == 0  # not lost yet: its task may simply be queued
    with later(settings.SEND_TASK_LOST_SECONDS + 1):
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox_recover() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox_recover() == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert len(fake_twilio.create_requests()) == 1


@pytest.mark.parametrize("kind", [MessageKind.TEST, MessageKind.OPT_IN_REQUEST, MessageKind.HELP_REPLY])
def test_a_single_text_whose_worker_died_after_the_provider_accepted_it_is_adopted_not_resent(
    fake_twilio, settings, kind
):
    contact = make_contact()
    message = OutboundMessage.objects.create(kind=kind, contact=contact, to=str(contact.phone), body="Hello there")
    claimed = outbox_claim(message_id=message.pk)
    get_backend().send(OutgoingSMS(to=claimed.to, body=claimed.body))  # accepted; the worker dies before storing
    with later(settings.SEND_CLAIM_TIMEOUT_SECONDS + 1):
        assert outbox_recover() == 1
    message.refresh_from_db()
    assert message.sid == fake_twilio.messages()[0]["sid"]
    assert message.reason == "sent; confirmed after a restart"
    assert len(fake_twilio.create_requests()) == 1


def test_a_confirmation_whose_worker_died_before_the_provider_had_it_is_sent_again_once(
    fake_twilio, eager_celery, django_capture_on_commit_callbacks, settings
):
    message = a_confirmation_queued(django_capture_on_commit_callbacks)
    outbox_claim(message_id=message.pk)  # the worker claimed it, then died before calling the provider
    with later(settings.SEND_CLAIM_TIMEOUT_SECONDS + 1), django_capture_on_commit_callbacks(execute=True):
        assert outbox_recover() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert len(fake_twilio.create_requests()) == 1


def test_a_number_gets_a_bounded_number_of_yes_requests_a_day_across_programs(fake_twilio, settings):
    settings.DOUBLE_OPT_IN_REQUESTS_PER_DAY = 3
    contact = make_contact()
    outcomes = []
    for _ in range(4):  # a stranger fills four programs' forms with this number
        event = consent_opt_in(contact=contact, program=make_program(double_opt_in=True), method=ConsentMethod.WEB_FORM,
                               evidence={"ip": "203.0.113.9"}, pending=True)  # fmt: skip
        request = consent_text_queue(event=event)
        if request.status == MessageStatus.PENDING:
            outcomes.append(outbox_send_claimed([outbox_claim(message_id=request.pk)])[0].message)
        else:
            outcomes.append(request)
    assert [m.status for m in outcomes] == [MessageStatus.QUEUED] * 3 + [MessageStatus.SKIPPED]
    assert outcomes[-1].reason == "too many “reply YES” requests to this number today"
    assert len(fake_twilio.create_requests()) == 3
    with later(24 * 3600 + 1):
        event = consent_opt_in(contact=contact, program=make_program(double_opt_in=True), method=ConsentMethod.WEB_FORM,
                               evidence={"ip": "203.0.113.9"}, pending=True)  # fmt: skip
        assert consent_text_queue(event=event).status == MessageStatus.PENDING
