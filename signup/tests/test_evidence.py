"""Disclosure snapshots and the expiry of unconfirmed double opt-ins."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from contacts.models import ConsentEvent, ConsentKind, ConsentMethod, Contact, Subscription, SubscriptionStatus
from contacts.services import consent_confirm_request
from signup.models import DisclosureImmutableError, DisclosureVersion
from signup.tasks import pending_consents_expire

from .conftest import form_data

pytestmark = pytest.mark.django_db


def _sign_up(client, program, phone, capture):
    with capture(execute=True):
        response = client.post(f"/join/{program.slug}/", form_data(program, phone=phone))
    assert response.status_code == 302


def test_editing_a_program_leaves_old_evidence_and_its_version_unchanged(
    client, program, django_capture_on_commit_callbacks
):
    _sign_up(client, program, "+14155550101", django_capture_on_commit_callbacks)
    old_event = ConsentEvent.objects.get()
    old_version = DisclosureVersion.objects.get()
    old_text = old_version.text

    program.description = "Daily flash sales."
    program.frequency_text = "Up to 30 msgs/month"
    program.save()
    _sign_up(client, program, "+14155550102", django_capture_on_commit_callbacks)

    old_event.refresh_from_db()
    old_version.refresh_from_db()
    new_event = ConsentEvent.objects.latest("id")
    assert old_version.text == old_text
    assert "Up to 4 msgs/month" in old_event.evidence["disclosure_text"]
    assert old_event.evidence["disclosure_version"] == old_version.pk
    assert "Up to 30 msgs/month" in new_event.evidence["disclosure_text"]
    assert new_event.evidence["disclosure_version"] != old_version.pk
    assert DisclosureVersion.objects.count() == 2


def test_the_same_words_reuse_one_version(client, program, django_capture_on_commit_callbacks):
    _sign_up(client, program, "+14155550101", django_capture_on_commit_callbacks)
    _sign_up(client, program, "+14155550102", django_capture_on_commit_callbacks)
    assert DisclosureVersion.objects.count() == 1
    assert len({e.evidence["disclosure_version"] for e in ConsentEvent.objects.all()}) == 1


def test_disclosure_versions_refuse_to_be_edited(client, program, django_capture_on_commit_callbacks):
    _sign_up(client, program, "+14155550101", django_capture_on_commit_callbacks)
    version = DisclosureVersion.objects.get()
    version.text = "something else"
    with pytest.raises(DisclosureImmutableError):
        version.save()
    with pytest.raises(DisclosureImmutableError):
        DisclosureVersion.objects.filter(pk=version.pk).update(text="x")
    with pytest.raises(DisclosureImmutableError):
        DisclosureVersion.objects.filter(pk=version.pk).delete()


def test_the_database_refuses_raw_changes_to_disclosure_versions(client, program, django_capture_on_commit_callbacks):
    from django.db import DatabaseError, connection, transaction

    _sign_up(client, program, "+14155550101", django_capture_on_commit_callbacks)
    version = DisclosureVersion.objects.get()
    for sql in (
        "UPDATE signup_disclosureversion SET text = 'changed' WHERE id = %s",
        "DELETE FROM signup_disclosureversion WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [version.pk])
    version.refresh_from_db()
    assert version.text == ConsentEvent.objects.get().evidence["disclosure_text"]


def test_unconfirmed_double_opt_in_expires_after_the_configured_hours(
    client, double_opt_in_program, settings, django_capture_on_commit_callbacks
):
    settings.CONSENT_PENDING_EXPIRY_HOURS = 2
    _sign_up(client, double_opt_in_program, "+14155550101", django_capture_on_commit_callbacks)
    _sign_up(client, double_opt_in_program, "+14155550102", django_capture_on_commit_callbacks)
    confirmed = Contact.objects.get(phone="+14155550102")
    _yes(confirmed)

    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=59)):
        assert pending_consents_expire() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=2, minutes=1)):
        assert pending_consents_expire() == 1

    statuses = dict(Subscription.objects.values_list("contact__phone", "status"))
    assert statuses == {"+14155550101": SubscriptionStatus.EXPIRED, "+14155550102": SubscriptionStatus.ACTIVE}
    expired = ConsentEvent.objects.filter(kind=ConsentKind.EXPIRED).get()
    assert str(expired.contact.phone) == "+14155550101"
    # A late YES confirms nothing.
    late = Contact.objects.get(phone="+14155550101")
    assert _yes(late) is None


def _yes(contact):
    request = Subscription.objects.get(contact=contact).last_event_id
    return consent_confirm_request(
        contact=contact, request_event_id=request, method=ConsentMethod.KEYWORD, evidence={"body": "YES"}
    )


def test_spanish_sign_up_texts_stay_in_the_gsm7_alphabet(program):
    # A single accented á/í/ó/ú would switch the whole text to UCS-2 and cut a segment to 70 characters.
    from django.utils import translation

    from messaging.segments import is_gsm7
    from messaging.texts import text_double_opt_in_request, text_help, text_opt_in_confirmation

    with translation.override("es"):
        texts = [text_double_opt_in_request(program), text_opt_in_confirmation(program), text_help(program)]
    assert all("Responde" in text for text in texts)
    assert all(is_gsm7(text) for text in texts), texts


def test_the_periodic_expiry_task_is_registered_under_its_scheduled_name(settings):
    from smsconsent.celery import app

    scheduled = settings.CELERY_BEAT_SCHEDULE["consent-expire-pending"]["task"]
    assert scheduled == "signup.tasks.pending_consents_expire"
    app.loader.import_default_modules()
    assert app.tasks[scheduled].run.__module__ == pending_consents_expire.run.__module__ == "signup.tasks"
