"""Frequency caps: at most N marketing texts per contact per window, across campaigns.

Caps come from settings (a global cap) and from state rules (FL, OK, MD: 3 per
24 h). Counted from what was actually sent (`OutboundMessage.sent_at`, indexed
with the contact), for a whole batch of contacts in one query.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from messaging.models import MessageKind, OutboundMessage

from .models import StateRule


@dataclass(frozen=True)
class Cap:
    count: int
    hours: int
    label: str  # for the message's reason, e.g. "FL cap 3 per 24 h"


def state_caps() -> dict[str, Cap]:
    return {
        r.region: Cap(r.frequency_cap_count, r.frequency_cap_hours, f"{r.region} cap {r.frequency_cap_count} per "
                      f"{r.frequency_cap_hours} h")
        for r in StateRule.objects.filter(frequency_cap_count__isnull=False)
    }  # fmt: skip


def caps_for(region: str, state: dict[str, Cap]) -> list[Cap]:
    caps = []
    if settings.FREQUENCY_CAP_COUNT > 0:
        hours = settings.FREQUENCY_CAP_WINDOW_HOURS
        caps.append(Cap(settings.FREQUENCY_CAP_COUNT, hours, f"cap {settings.FREQUENCY_CAP_COUNT} per {hours} h"))
    if region in state:
        caps.append(state[region])
    return caps


@dataclass(frozen=True)
class OverCap:
    until: datetime  # when the contact is back under every cap
    reason: str


def contacts_over_cap(*, regions: dict[int, str], now: datetime, state: dict[str, Cap]) -> dict[int, OverCap]:
    """Of the contacts in `regions` (contact id -> state), those a text now would put over a cap."""
    caps = {cid: caps_for(region, state) for cid, region in regions.items()}
    caps = {cid: c for cid, c in caps.items() if c}
    if not caps:
        return {}
    longest = max(cap.hours for c in caps.values() for cap in c)
    sent = defaultdict(list)
    rows = OutboundMessage.objects.filter(
        contact_id__in=list(caps), kind=MessageKind.CAMPAIGN, sent_at__gt=now - timedelta(hours=longest)
    ).values_list("contact_id", "sent_at")
    for contact_id, sent_at in rows:
        sent[contact_id].append(sent_at)
    over = {}
    for contact_id, contact_caps in caps.items():
        times = sorted(sent.get(contact_id, ()))
        for cap in contact_caps:
            recent = [t for t in times if t > now - timedelta(hours=cap.hours)]
            if len(recent) >= cap.count:
                # Back under the cap once enough of the recent sends leave the window.
                until = recent[len(recent) - cap.count] + timedelta(hours=cap.hours)
                if contact_id not in over or until > over[contact_id].until:
                    over[contact_id] = OverCap(until, f"frequency {cap.label}")
    return over
