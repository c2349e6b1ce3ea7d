"""What the development phone shows: one number's texts both ways, oldest first, as a phone would."""

from dataclasses import dataclass
from datetime import datetime

from contacts.models import Contact
from messaging.models import InboundMessage, OutboundMessage

THREAD_LIMIT = 100  # texts each way; a phone scrolls, this page needn't


@dataclass(frozen=True)
class ThreadItem:
    key: str  # stable across polls: "in-12", "out-34"
    direction: str  # "in": the person wrote it; "out": the product sent it
    body: str
    at: datetime
    kind: str  # OutboundMessage.kind ("campaign", "confirm"…; webhook answers too, status "replied") or "inbound"
    status: str  # the outbound status, or how an inbound text was read (its classification)
    label: str  # the two above in words, e.g. "Opt-in confirmation · Sent"


def phone_thread(*, number: str, limit: int = THREAD_LIMIT) -> list[ThreadItem]:
    """Texts from and to `number` (E.164), oldest first: what the person wrote, what we answered, what we sent."""
    items = []
    inbound = InboundMessage.objects.filter(from_number=number).order_by("-received_at", "-id")[:limit]
    for message in inbound:
        read_as = message.get_classification_display()
        items.append(ThreadItem(
            key=f"in-{message.pk}", direction="in", body=message.body, at=message.received_at, kind="inbound",
            status=message.classification, label=f"{read_as} · {message.effect}" if message.effect else read_as,
        ))  # fmt: skip
    for message in _outbound(number, limit):
        items.append(ThreadItem(
            key=f"out-{message.pk}", direction="out", body=message.body, at=message.created_at, kind=message.kind,
            status=message.status, label=f"{message.get_kind_display()} · {message.get_status_display()}",
        ))  # fmt: skip
    items.sort(key=lambda item: item.at)
    return items[-limit:]


def _outbound(number: str, limit: int) -> list[OutboundMessage]:
    contact = Contact.objects.filter(phone=number).first()
    # Through the contact: (contact, id) is indexed, `to` is not.
    sent = list(OutboundMessage.objects.filter(contact=contact).order_by("-id")[:limit]) if contact else []
    # Texts to a number that is no contact (a test send, a HELP reply to a stranger). `to` has no index:
    # a scan, fine for a development page on development data, and never run in production.
    strays = OutboundMessage.objects.filter(contact__isnull=True, to=number).order_by("-id")
    return sent + list(strays[:limit])


def phone_numbers_recent(limit: int = 20) -> list[Contact]:
    """The newest contacts, to pick a number from."""
    return list(Contact.objects.order_by("-id").only("phone", "first_name", "last_name")[:limit])
