"""Messages whose worker died mid-send: find out from the provider whether the text went, and act on it.

A worker killed between the provider's answer and our commit leaves a message
CLAIMED with no SID. After `SEND_CLAIM_TIMEOUT_SECONDS` we ask the provider
what it accepted for that number since the claim: if it has the text, we
adopt its SID (it was sent, exactly once); if not, the message becomes
sendable again. A live worker holds its message's row lock while sending, and
this skips locked rows, so it never second-guesses a send in flight.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from messaging.backends import SendError, get_backend
from messaging.models import MessageStatus, OutboundMessage

from .models import CampaignStatus

log = logging.getLogger(__name__)


def _provider_lookup(message: OutboundMessage):
    """What the provider accepted for this message, or None. Raises LookupError when it can't be asked."""
    backend = get_backend()
    find_sent = getattr(backend, "find_sent", None)
    if find_sent is None:
        raise LookupError(f"{type(backend).__name__} can't say what it sent")
    found = find_sent(to=message.to, since=message.claimed_at - timedelta(seconds=5))
    if found is None or not isinstance(found, (list, tuple)):
        return found
    # Texts to this number since the claim that no message of ours owns (another campaign's are not ours).
    known = set(OutboundMessage.objects.filter(sid__in=[f.sid for f in found]).values_list("sid", flat=True))
    unknown = [f for f in found if f.sid not in known]
    # Prefer the same body; a provider that appends its own footer still counts as having sent ours.
    return next((f for f in unknown if getattr(f, "body", None) == message.body), unknown[0] if unknown else None)


def messages_reconcile_stale(*, limit: int = 100) -> int:
    """Settle campaign messages stuck CLAIMED without a SID past the timeout. Returns how many were settled."""
    cutoff = timezone.now() - timedelta(seconds=settings.SEND_CLAIM_TIMEOUT_SECONDS)
    settled = 0
    with transaction.atomic():
        stale = list(
            OutboundMessage.objects.filter(
                status=MessageStatus.CLAIMED, sid__isnull=True, campaign__isnull=False, claimed_at__lt=cutoff
            )
            .order_by()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("campaign")[:limit]
        )
        for message in stale:
            settled += _settle(message)
    return settled


def _settle(message: OutboundMessage) -> int:
    now = timezone.now()
    try:
        found = _provider_lookup(message)
    except SendError as error:
        # The provider can't be asked right now; sending again could text someone twice, so wait for the next tick.
        log.warning("message %s: claim expired, provider lookup failed (%s); will ask again", message.pk, error)
        return 0
    except LookupError as error:
        log.warning("message %s: claim expired and the provider can't be asked (%s)", message.pk, error)
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=MessageStatus.FAILED,
            reason="send interrupted; the provider could not confirm it",
            status_updated_at=now,
        )
        return 1
    if found is not None:
        status = found.status if found.status in MessageStatus.values else MessageStatus.QUEUED
        OutboundMessage.objects.filter(pk=message.pk).update(
            status=status, sid=found.sid, sent_at=now, status_updated_at=now, reason="sent; confirmed after a restart"
        )
        log.info("message %s: adopted %s from the provider after an interrupted send", message.pk, found.sid)
        return 1
    if message.campaign.status == CampaignStatus.CANCELLED:
        fields = {"status": MessageStatus.CANCELED, "reason": "campaign cancelled"}
    else:
        fields = {"status": MessageStatus.PENDING, "send_after": None}
    OutboundMessage.objects.filter(pk=message.pk).update(status_updated_at=now, **fields)
    log.info("message %s: interrupted before the provider had it; queued again", message.pk)
    return 1
