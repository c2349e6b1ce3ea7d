"""The single-message task: queued after commit, sends once, asks for a retry on transient errors."""

import pytest

from contacts.models import ConsentMethod
from contacts.services import consent_opt_in
from contacts.tests.factories import make_contact, make_program
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import outbox_queue
from messaging.tasks import message_deliver_task
from messaging.tests.factories import confirmation as make_confirmation

pytestmark = pytest.mark.django_db


def confirmation():
    return make_confirmation(make_contact(), make_program())


def test_outbox_queue_enqueues_the_task_only_after_commit(django_capture_on_commit_callbacks):
    contact, program = make_contact(), make_program()
    event = consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence={"form": "t"})
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = outbox_queue(
            kind=MessageKind.CONFIRMATION, body="Welcome!", contact=contact, program=program, consent_event=event
        )
    assert len(callbacks) == 1
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.PENDING


def test_the_task_sends_once_even_when_delivered_twice(fake_twilio):
    message = confirmation()
    message_deliver_task.apply(args=[message.pk])
    message_deliver_task.apply(args=[message.pk])
    assert len(fake_twilio.create_requests()) == 1
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.QUEUED


def test_a_transient_error_leaves_the_message_for_a_retry_after_the_backoff_and_not_sooner(fake_twilio):
    message = confirmation()
    fake_twilio.fail_next(status=503)
    # Run eagerly, Celery repeats the task at once, ignoring the ETA: the claim must refuse it.
    message_deliver_task.apply(args=[message.pk])
    message = OutboundMessage.objects.get(pk=message.pk)
    assert message.status == MessageStatus.RETRY and message.send_after is not None
    assert len(fake_twilio.create_requests()) == 1
    OutboundMessage.objects.filter(pk=message.pk).update(send_after=None)
    message_deliver_task.apply(args=[message.pk])
    assert OutboundMessage.objects.get(pk=message.pk).status == MessageStatus.QUEUED
    assert len(fake_twilio.messages()) == 1
