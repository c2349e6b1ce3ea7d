"""Writes for campaigns: the status transitions staff trigger, and the test send.

Every transition is a conditional UPDATE on the current status, so two clicks
(or a click racing the beat task) can't both win; the loser gets a clear
ValidationError. Workers pick up the result within seconds.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.phones import phone_e164
from contacts.selectors import consent_may_send
from messaging.models import MessageKind, MessageStatus, OutboundMessage
from messaging.outbox import TextRefused, outbox_queue
from signup.ratelimit import rate_limit_exceeded

from . import quiet_hours
from .clock import sending_now
from .models import Campaign, CampaignStatus
from .rendering import contact_fields, message_compose

log = logging.getLogger(__name__)

SEND_PERMISSION = "campaigns.send_campaign"

S = CampaignStatus
# action: (statuses it may start from, status it leads to, how to say it in an error)
TRANSITIONS = {
    "schedule": ({S.DRAFT, S.SCHEDULED}, S.SCHEDULED, "scheduled"),
    "start": ({S.DRAFT, S.SCHEDULED}, S.SENDING, "sent"),
    "pause": ({S.SENDING}, S.PAUSED, "paused"),
    "resume": ({S.PAUSED}, S.SENDING, "resumed"),
    "cancel": ({S.DRAFT, S.SCHEDULED, S.SENDING, S.PAUSED}, S.CANCELLED, "cancelled"),
    "unschedule": ({S.SCHEDULED}, S.DRAFT, "unscheduled"),
}


def _require_send_permission(actor) -> None:
    # The admin hides the buttons; this keeps any other caller honest too. actor=None is the system itself.
    if actor is not None and not actor.has_perm(SEND_PERMISSION):
        raise PermissionDenied("You don't have permission to send campaigns.")


def _transition(campaign: Campaign, action: str, **fields) -> Campaign:
    allowed, new_status, verb = TRANSITIONS[action]
    changed = Campaign.objects.filter(pk=campaign.pk, status__in=allowed).update(
        status=new_status, updated_at=timezone.now(), **fields
    )
    campaign.refresh_from_db()
    if not changed:
        raise ValidationError(f"A campaign that is {campaign.get_status_display().lower()} can't be {verb}.")
    return campaign


def campaign_validate_sendable(campaign: Campaign) -> None:
    """Raise a ValidationError when the campaign could not be sent as it is."""
    if not campaign.program.is_active:
        raise ValidationError(f"The program “{campaign.program}” is not active.")
    if not campaign.body.strip():
        raise ValidationError({"body": "Write the message first."})
    # Renders with empty fields, so a filter that only fails at render time shows up now, not mid-campaign.
    message_compose(body=campaign.body, program=campaign.program, contact_fields={})


@transaction.atomic
def campaign_schedule(*, campaign: Campaign, send_at, actor) -> Campaign:
    """Have the campaign start at `send_at`; the periodic task starts it once that moment has passed."""
    _require_send_permission(actor)
    if send_at is None:
        raise ValidationError({"send_at": "Choose when to send."})
    if timezone.is_naive(send_at):
        raise ValidationError({"send_at": "The send time needs a time zone."})
    campaign_validate_sendable(campaign)
    campaign = _transition(campaign, "schedule", send_at=send_at)
    log.info("campaign %s scheduled for %s by %s", campaign.pk, send_at.isoformat(), actor)
    return campaign


@transaction.atomic
def campaign_unschedule(*, campaign: Campaign, actor) -> Campaign:
    """Back to draft: nothing goes out until someone confirms sending or a schedule again.

    Sends nothing, so it needs no send permission: editing a scheduled campaign's message
    or audience does this, since what was confirmed is no longer what would go out.
    """
    campaign = _transition(campaign, "unschedule", send_at=None)
    log.info("campaign %s unscheduled by %s", campaign.pk, actor)
    return campaign


@transaction.atomic
def campaign_start(*, campaign: Campaign, actor) -> Campaign:
    """Send now: the audience is built and workers start sending once this commits."""
    _require_send_permission(actor)
    campaign_validate_sendable(campaign)
    campaign = _transition(campaign, "start", started_at=timezone.now())
    _after_commit_build(campaign.pk)
    log.info("campaign %s started by %s", campaign.pk, actor)
    return campaign


def campaign_start_due(*, campaign_id: int, now=None) -> bool:
    """Start one scheduled campaign whose time has come. False when it isn't due or someone else started it."""
    now = now or timezone.now()
    with transaction.atomic():
        started = Campaign.objects.filter(pk=campaign_id, status=S.SCHEDULED, send_at__lte=now).update(
            status=S.SENDING, started_at=now, updated_at=now
        )
        if started:
            _after_commit_build(campaign_id)
    return bool(started)


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor) -> Campaign:
    """Workers stop claiming within seconds; messages already claimed but not handed over go back to the queue."""
    _require_send_permission(actor)
    campaign = _transition(campaign, "pause")
    log.info("campaign %s paused by %s", campaign.pk, actor)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor) -> Campaign:
    _require_send_permission(actor)
    campaign = _transition(campaign, "resume")
    _after_commit_dispatch(campaign.pk)
    log.info("campaign %s resumed by %s", campaign.pk, actor)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, actor) -> Campaign:
    """Stop for good. Unsent messages become CANCELED (in batches, by a task); sent ones keep their status."""
    _require_send_permission(actor)
    campaign = _transition(campaign, "cancel", completed_at=timezone.now())
    from .tasks import campaign_cancel_pending_task

    campaign_id = campaign.pk
    transaction.on_commit(lambda: campaign_cancel_pending_task.delay(campaign_id))
    log.info("campaign %s cancelled by %s", campaign.pk, actor)
    return campaign


def campaign_send_test(*, campaign: Campaign, to, actor) -> OutboundMessage:
    """Send the campaign's text now to one subscribed number, marked as a test sent by `actor`.

    A test reaches a phone like a real text, so the gate treats it like one: the number
    must have current consent to the campaign's program (staff subscribe their own phone
    first), it must be inside that number's sending window, and each staff user may send
    `TEST_SEND_RATE_LIMIT` of them. Personalised with that contact's own fields.
    """
    _require_send_permission(actor)
    to = phone_e164(to)
    campaign_validate_sendable(campaign)
    contact = Contact.objects.filter(phone=to).first()
    if contact is None or not consent_may_send(contact=contact, program=campaign.program):
        raise TextRefused(
            f"{to} is not subscribed to “{campaign.program}”. Tests go only to subscribed numbers: "
            "sign your own phone up for the program first."
        )
    if settings.QUIET_HOURS_ENABLED:
        now = sending_now()
        rules = quiet_hours.state_rules()
        opens = quiet_hours.next_allowed(time_zones=contact.time_zones, region=contact.region, at=now, rules=rules)
        if opens != now:
            when = f"at {timezone.localtime(opens):%Y-%m-%d %H:%M %Z}" if opens else "not within a week"
            raise TextRefused(f"It is outside the sending hours for {to}; they open {when}.")
    if actor is not None and rate_limit_exceeded(
        scope="campaign-test", key=str(actor.pk), rate=settings.TEST_SEND_RATE_LIMIT
    ):
        raise TextRefused(f"You have sent the most test texts allowed ({settings.TEST_SEND_RATE_LIMIT}); try later.")
    body = message_compose(body=campaign.body, program=campaign.program, contact_fields=contact_fields(contact))
    with transaction.atomic():
        message = outbox_queue(
            kind=MessageKind.TEST, body=body, contact=contact, program=campaign.program, requested_by=actor
        )
        if message.status == MessageStatus.SKIPPED:
            raise TextRefused(f"Not sent: {message.reason}.")
    log.info("test of campaign %s sent to %s by %s", campaign.pk, to, actor)
    return message


def _after_commit_build(campaign_id: int) -> None:
    from .tasks import campaign_build_enqueue

    transaction.on_commit(lambda: campaign_build_enqueue(campaign_id))


def _after_commit_dispatch(campaign_id: int) -> None:
    from .dispatch import campaign_chains_ensure

    transaction.on_commit(lambda: campaign_chains_ensure(campaign_id=campaign_id))
