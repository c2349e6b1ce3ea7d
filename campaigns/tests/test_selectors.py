"""The audience breakdown and progress counts staff decide on, checked against real consent states."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.audience import audience_sendable
from campaigns.models import Campaign, CampaignStatus
from campaigns.selectors import (
    PROGRESS_BUCKETS,
    AudienceParams,
    campaign_audience_breakdown,
    campaign_progress,
    campaigns_progress,
)
from contacts.models import ConsentMethod, Tag
from contacts.services import (
    consent_expire_pending,
    consent_opt_in,
    consent_opt_out,
    contact_mark_undeliverable,
    number_suppress,
)
from contacts.tests.factories import make_contact, make_program
from messaging.models import MessageKind, MessageStatus, OutboundMessage

pytestmark = pytest.mark.django_db

WEB = {"form_url": "https://acme.test/join/deals/", "ip": "203.0.113.9", "disclosure": "Acme Deals texts"}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def opted_in(program, phone=None, **fields):
    contact = make_contact(phone, **fields)
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.WEB_FORM, evidence=WEB)
    return contact


def make_campaign(program, **fields):
    fields = {"name": "Spring sale", "body": "Hi {{ first_name }}, 20% off today.", **fields}
    return Campaign.objects.create(program=program, **fields)


def sent_campaign_message(contact, program, *, ago=timedelta(hours=1)):
    other = make_campaign(program, name="Earlier campaign", status=CampaignStatus.COMPLETED)
    return OutboundMessage.objects.create(
        kind=MessageKind.CAMPAIGN, campaign=other, contact=contact, program=program, to=str(contact.phone),
        status=MessageStatus.DELIVERED, sent_at=timezone.now() - ago,
    )  # fmt: skip


@pytest.fixture
def audience_in_every_state(settings):
    """A program's audience with contacts in each state the preview reports, built through the consent services."""
    settings.FREQUENCY_CAP_COUNT = 2
    settings.FREQUENCY_CAP_WINDOW_HOURS = 24
    program = make_program()
    other_program = make_program()

    sendable = [opted_in(program), opted_in(program)]

    pending = make_contact()
    consent_opt_in(contact=pending, program=program, method=ConsentMethod.WEB_FORM, evidence=WEB, pending=True)
    expired = make_contact()
    consent_opt_in(contact=expired, program=program, method=ConsentMethod.WEB_FORM, evidence=WEB, pending=True)
    consent_expire_pending(now=timezone.now() + timedelta(days=30))
    # `consent_expire_pending` expired both; make `pending` pending again so both kinds are present.
    consent_opt_in(contact=pending, program=program, method=ConsentMethod.WEB_FORM, evidence=WEB, pending=True)

    opted_out = opted_in(program)
    consent_opt_out(contact=opted_out, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})

    suppressed = opted_in(program)
    number_suppress(phone=str(suppressed.phone), reason="erasure request")
    # Suppressed AND opted out: reported once, as suppressed (the stronger reason).
    suppressed_and_out = opted_in(program)
    number_suppress(phone=str(suppressed_and_out.phone), reason="erasure request")
    consent_opt_out(contact=suppressed_and_out, method=ConsentMethod.KEYWORD, evidence={"body": "STOP"})

    undeliverable = opted_in(program)
    contact_mark_undeliverable(contact=undeliverable, reason="30006: landline")

    capped = opted_in(program)
    sent_campaign_message(capped, program)
    sent_campaign_message(capped, program)
    # Two texts but the older one left the 24 h window: still under the cap, so sendable.
    under_cap = opted_in(program)
    sent_campaign_message(under_cap, program, ago=timedelta(hours=1))
    sent_campaign_message(under_cap, program, ago=timedelta(hours=30))
    sendable.append(under_cap)

    # Not in the audience at all: subscribed to another program only.
    opted_in(other_program)
    return {"program": program, "sendable": sendable}


@pytest.mark.smoke
def test_breakdown_counts_each_contact_once_under_its_exclusion_reason(audience_in_every_state):
    program = audience_in_every_state["program"]
    campaign = make_campaign(program)

    breakdown = campaign_audience_breakdown(campaign)

    assert breakdown["excluded"] == {
        "suppressed": 2,
        "undeliverable": 1,
        "opted_out": 1,
        "no_consent": 2,  # one pending, one expired
        "frequency_cap": 1,
    }
    assert breakdown["sendable"] == 3
    assert breakdown["total"] == 10
    assert breakdown["sendable"] + sum(breakdown["excluded"].values()) == breakdown["total"]


def test_breakdown_sendable_matches_the_engine_audience_minus_capped(audience_in_every_state):
    campaign = make_campaign(audience_in_every_state["program"])
    breakdown = campaign_audience_breakdown(campaign)
    assert breakdown["sendable"] + breakdown["excluded"]["frequency_cap"] == audience_sendable(campaign).count()


@pytest.mark.smoke
def test_breakdown_counts_the_audience_in_one_aggregate_query(audience_in_every_state):
    params = AudienceParams(program=audience_in_every_state["program"])
    with CaptureQueriesContext(connection) as queries:
        campaign_audience_breakdown(params)
    audience_queries = [q["sql"] for q in queries.captured_queries if '"contacts_contact"' in q["sql"]]
    assert len(audience_queries) == 1
    if connection.vendor == "postgresql":
        assert audience_queries[0].count("FILTER (WHERE") == 6  # sendable + five reasons


def test_breakdown_narrows_by_tags_and_attributes():
    program = make_program()
    vip = Tag.objects.create(name="vip")
    austin_vip = opted_in(program)
    austin_vip.attributes = {"city": "Austin"}
    austin_vip.save()
    austin_vip.tags.add(vip)
    dallas_vip = opted_in(program)
    dallas_vip.attributes = {"city": "Dallas"}
    dallas_vip.save()
    dallas_vip.tags.add(vip)
    opted_in(program)  # no tag

    only_vip = campaign_audience_breakdown(AudienceParams(program=program, tag_ids=(vip.pk,)))
    vip_in_austin = campaign_audience_breakdown(
        AudienceParams(program=program, tag_ids=(vip.pk,), attribute_filters={"city": "Austin"})
    )

    assert (only_vip["total"], only_vip["sendable"]) == (2, 2)
    assert (vip_in_austin["total"], vip_in_austin["sendable"]) == (1, 1)


def test_breakdown_applies_state_frequency_caps_from_the_state_rules(settings):
    settings.FREQUENCY_CAP_COUNT = 0  # only the seeded Florida rule: 3 per 24 h
    program = make_program()
    floridian = opted_in(program, "+13055550123")  # Miami area code
    californian = opted_in(program, "+14155550177")
    assert floridian.region == "FL"
    for contact in (floridian, californian):
        for _ in range(3):
            sent_campaign_message(contact, program)

    breakdown = campaign_audience_breakdown(AudienceParams(program=program))

    assert breakdown["excluded"]["frequency_cap"] == 1
    assert breakdown["sendable"] == 1


def test_breakdown_is_served_from_cache_when_asked(settings):
    program = make_program()
    opted_in(program)
    params = AudienceParams(program=program)
    first = campaign_audience_breakdown(params, cache_seconds=30)
    opted_in(program)

    assert campaign_audience_breakdown(params, cache_seconds=30) == first
    assert campaign_audience_breakdown(params)["total"] == 2


# --- progress ------------------------------------------------------------------------


def messages_with_statuses(campaign, statuses):
    rows = []
    for status in statuses:
        contact = make_contact()
        rows.append(OutboundMessage(kind=MessageKind.CAMPAIGN, campaign=campaign, contact=contact,
                                    program=campaign.program, to=str(contact.phone), status=status))  # fmt: skip
    OutboundMessage.objects.bulk_create(rows)


@pytest.mark.smoke
def test_progress_puts_every_message_status_in_its_bucket(django_assert_num_queries):
    campaign = make_campaign(make_program(), status=CampaignStatus.SENDING)
    S = MessageStatus
    messages_with_statuses(campaign, [
        S.PENDING, S.CLAIMED, S.RETRY,  # pending: 3
        S.QUEUED, S.ACCEPTED,  # queued: 2
        S.SENT,  # sent: 1
        S.DELIVERED, S.DELIVERED, S.READ,  # delivered: 3
        S.FAILED, S.UNDELIVERED,  # failed: 2
        S.DEFERRED,  # deferred: 1
        S.SKIPPED, S.SKIPPED,  # skipped: 2
        S.CANCELED,  # cancelled: 1
    ])  # fmt: skip

    with django_assert_num_queries(1):
        progress = campaign_progress(campaign)

    assert progress["buckets"] == {"pending": 3, "queued": 2, "sent": 1, "delivered": 3, "failed": 2,
                                   "deferred": 1, "skipped": 2, "cancelled": 1}  # fmt: skip
    assert set(progress["buckets"]) == set(PROGRESS_BUCKETS)
    assert progress["total"] == 15
    assert progress["processed"] == 11  # all but pending and deferred
    assert progress["percent"] == pytest.approx(73.3)
    assert progress["finished"] is False


def test_progress_of_other_campaigns_is_not_counted():
    program = make_program()
    mine = make_campaign(program, status=CampaignStatus.SENDING)
    theirs = make_campaign(program, status=CampaignStatus.SENDING)
    messages_with_statuses(mine, [MessageStatus.SENT])
    messages_with_statuses(theirs, [MessageStatus.SENT, MessageStatus.SENT])
    assert campaign_progress(mine)["total"] == 1


def test_list_progress_for_a_page_of_campaigns_takes_one_query(django_assert_num_queries):
    program = make_program()
    campaigns = [make_campaign(program, status=CampaignStatus.COMPLETED) for _ in range(4)]
    for n, campaign in enumerate(campaigns):
        messages_with_statuses(campaign, [MessageStatus.DELIVERED] * (n + 1))
    drafts = [make_campaign(program)]

    with django_assert_num_queries(1):
        progress = campaigns_progress(campaigns + drafts)

    assert [progress[c.pk]["total"] for c in campaigns] == [1, 2, 3, 4]
    assert progress[drafts[0].pk]["total"] == 0
    with django_assert_num_queries(0):  # cached for the next refresh of the list
        campaigns_progress(campaigns)
