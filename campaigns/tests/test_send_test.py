"""A test send is a real text: it goes only to a subscribed number, within its sending window, at a bounded rate."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import services
from campaigns.tests.factories import make_campaign, opted_out, subscriber
from contacts.models import ConsentMethod
from contacts.services import consent_opt_out, number_suppress
from contacts.tests.factories import make_contact, make_program
from messaging.backends import locmem
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import outbox_claim, outbox_send_claimed
from testing.users import MARKETING, staff_user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return make_campaign(make_program(brand="Acme Deals"), body="Hi {{ first_name|default:'there' }}, 20% off today.")


@pytest.fixture
def staff():
    return staff_user_make(MARKETING)


def send_now(message):
    return outbox_send_claimed([outbox_claim(message_id=message.pk)])[0]


def test_a_test_send_to_an_opted_out_number_is_refused_and_nothing_reaches_the_provider(campaign, staff):
    gone = opted_out(campaign.program)
    with pytest.raises(ValidationError, match="not subscribed"):
        services.campaign_send_test(campaign=campaign, to=str(gone.phone), actor=staff)
    assert not OutboundMessage.objects.filter(kind=MessageKind.TEST).exists()
    assert locmem.outbox == []


@pytest.mark.parametrize("who", ["stranger", "other program", "suppressed"])
def test_a_test_send_goes_only_to_a_number_with_current_consent_to_the_campaigns_program(campaign, staff, who):
    if who == "stranger":
        number = str(make_contact().phone)
    elif who == "other program":
        number = str(subscriber(make_program()).phone)
    else:
        contact = subscriber(campaign.program)
        number_suppress(phone=contact.phone, reason="erased")
        number = str(contact.phone)
    with pytest.raises(ValidationError):
        services.campaign_send_test(campaign=campaign, to=number, actor=staff)
    assert not OutboundMessage.objects.filter(kind=MessageKind.TEST, status=MessageStatus.PENDING).exists()


def test_a_test_send_is_personalised_with_that_contacts_own_fields_and_records_who_asked(campaign, staff):
    mine = subscriber(campaign.program, first_name="Mia")
    message = services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff)
    assert (message.kind, message.requested_by, message.contact) == (MessageKind.TEST, staff, mine)
    assert send_now(message).sent
    assert [sms.body for sms in locmem.outbox] == ["Acme Deals: Hi Mia, 20% off today.\nReply STOP to opt out"]


def test_a_stop_after_the_test_was_queued_stops_it_at_the_moment_of_sending(campaign, staff):
    mine = subscriber(campaign.program)
    message = services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff)
    consent_opt_out(contact=mine, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})
    outcome = send_now(message)
    assert not outcome.sent
    assert (outcome.message.status, outcome.message.reason) == (MessageStatus.SKIPPED, "opted out")
    assert locmem.outbox == []


def test_test_sends_are_rate_limited_per_staff_user(campaign, staff, settings):
    settings.TEST_SEND_RATE_LIMIT = "2/h"
    mine = subscriber(campaign.program)
    for _ in range(2):
        services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff)
    with pytest.raises(ValidationError, match="most test texts"):
        services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff)
    # Another staff user has a budget of their own.
    services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff_user_make(MARKETING))
    assert OutboundMessage.objects.filter(kind=MessageKind.TEST).count() == 3


def test_a_test_send_outside_the_numbers_sending_hours_is_refused(campaign, staff, settings):
    settings.QUIET_HOURS_ENABLED = True
    new_yorker = subscriber(campaign.program, area="212")
    three_am = datetime(2026, 6, 16, 3, 0, tzinfo=ZoneInfo("America/New_York"))
    with time_machine.travel(three_am, tick=False), pytest.raises(ValidationError, match="outside the sending hours"):
        services.campaign_send_test(campaign=campaign, to=str(new_yorker.phone), actor=staff)
    with time_machine.travel(three_am.replace(hour=12), tick=False):
        services.campaign_send_test(campaign=campaign, to=str(new_yorker.phone), actor=staff)


def test_a_test_that_could_not_go_out_in_time_is_dropped_not_sent_hours_later(campaign, staff, settings):
    mine = subscriber(campaign.program)
    message = services.campaign_send_test(campaign=campaign, to=str(mine.phone), actor=staff)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.TEST_SEND_MAX_DELAY_SECONDS + 1)):
        outcome = send_now(message)
    assert (outcome.message.status, outcome.message.reason) == (MessageStatus.SKIPPED, "test not sent in time")
    assert locmem.outbox == []
