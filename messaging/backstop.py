"""The backstop for inbound webhooks that never reached us: ask Twilio what it received, apply what we lack.

The webhook and its spool cover a database outage; nothing on our side can
cover a request that never arrived (a network cut, a load balancer down).
Every `INBOUND_BACKSTOP_SECONDS`, beat lists the texts Twilio received for our
numbers in the last `INBOUND_BACKSTOP_LOOKBACK_MINUTES` and replays, through
the same `inbound_receive` as the webhook, every SID we never stored. Replies
to those go out through the outbox; an opt-out confirmation only within its
window, counted from when the person texted.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .backends import SendError, get_backend
from .inbound import inbound_params_clean, inbound_receive
from .models import InboundMessage
from .outbox import outbox_deliver

log = logging.getLogger(__name__)


def inbound_backstop_poll() -> int:
    """Replay the received texts we never stored. Returns how many were replayed."""
    since = timezone.now() - timedelta(minutes=settings.INBOUND_BACKSTOP_LOOKBACK_MINUTES)
    try:
        received = get_backend().find_received(since)
    except SendError as error:
        log.warning("inbound backstop: the provider could not be asked (%s); next time", error)
        return 0
    known = set(InboundMessage.objects.filter(sid__in=[r.sid for r in received]).values_list("sid", flat=True))
    replayed = 0
    for text in sorted((r for r in received if r.sid not in known), key=lambda r: r.received_at):
        params = inbound_params_clean(
            {"MessageSid": text.sid, "From": text.from_, "To": text.to, "Body": text.body,
             "AccountSid": settings.TWILIO_ACCOUNT_SID}
        )  # fmt: skip
        outcome = inbound_receive(params=params, received_at=text.received_at, reply_by="api")
        outbox_deliver(outcome.queued)
        if not outcome.duplicate:
            replayed += 1
            log.warning("inbound backstop: applied %s from %s, whose webhook never reached us", text.sid, text.from_)
    return replayed
