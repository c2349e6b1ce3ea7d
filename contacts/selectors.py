"""Reads about contacts and consent.

"May we send this text to this person right now?" has one answer, built here
as query expressions, so a single check, an audience build and the gate every
text passes at the moment of sending (`messaging.outbox`) all ask exactly the
same question. The answer depends on what the text is for: each kind of text
has its own rule (`SEND_RULES`), written as the conditions that block it.
"""

import re
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Right
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    Program,
    Subscription,
    SubscriptionStatus,
    SuppressedNumber,
)
from .phones import phone_search_variants

# Each kind of text, what lets it go out. The keys are `messaging.models.MessageKind` values.
SEND_RULES = {
    "campaign": "active consent to the campaign's program; the number is not suppressed or undeliverable",
    "test": "as a campaign: active consent to the campaign's program (and a staff user who asked, within a rate)",
    "confirm": "the opt-in it confirms is still the current state of that program (no opt-out since)",
    "optin_req": "the pending sign-up it asks about is still pending and unexpired (at most a few a day)",
    "stop_conf": "one per opt-out event, to the number that opted out, within the confirmation window",
    "help": "answers a text the person just sent (any number, even an opted-out one)",
    "reply": "answers a text the person sent, unless they have opted out of everything or are suppressed",
}

# Reasons a text is held back, in the order they are reported (the first that applies wins).
BLOCK_LABELS = {
    "suppressed": "number suppressed",
    "undeliverable": "number undeliverable",
    "opted_out": "opted out",
    "no_consent": "no active consent",
    "consent_changed": "consent changed since this opt-in",
    "not_pending": "the sign-up it asks about is no longer pending",
    "not_an_opt_out": "not an opt-out of this contact",
    "asked_back": "a number whose last act was an opt-out is never asked by text to opt back in",
}


@dataclass(frozen=True)
class SendRefs:
    """How the rows being checked lead to the contact, the program and the consent event.

    On `Contact` rows (an audience) the program is a value; on message rows each row names its own.
    """

    contact: str = "pk"  # the contact id as seen from the rows
    contact_fields: str = ""  # the prefix reaching the contact's fields ("" or "contact__")
    program: object = None  # a program (instance or id), or None to read `program_id` from each row
    event: str = "consent_event_id"  # the consent event id, for kinds that answer one event


MESSAGE_ROWS = SendRefs(contact="contact_id", contact_fields="contact__")


def _program(refs: SendRefs):
    return OuterRef("program_id") if refs.program is None else refs.program


def send_blockers(*, kind: str, refs: SendRefs = MESSAGE_ROWS) -> dict[str, Q]:
    """For one kind of text, each condition that holds it back (key: `BLOCK_LABELS`), as a Q on the rows.

    A text may go out when none applies. Each condition names the state it
    looks at, so a consent change landing between two of them can't give a
    contact the wrong label (an opt-out reported as "no consent").
    """
    if kind not in SEND_RULES:
        raise ValueError(f"no sending rule for kind {kind!r}")
    contact, fields = OuterRef(refs.contact), refs.contact_fields
    subscriptions = Subscription.objects.filter(contact_id=contact)
    suppressed = Q(Exists(SuppressedNumber.objects.filter(digest=OuterRef(f"{fields}phone_digest"))))
    undeliverable = Q(**{f"{fields}undeliverable_at__isnull": False})
    if kind in ("campaign", "test"):
        of_program = subscriptions.filter(program=_program(refs))
        opted_out = Q(Exists(of_program.filter(status=SubscriptionStatus.OPTED_OUT)))
        return {
            "suppressed": suppressed,
            "undeliverable": undeliverable,
            "opted_out": opted_out,
            "no_consent": ~Q(Exists(of_program.filter(status=SubscriptionStatus.ACTIVE))) & ~opted_out,
        }
    if kind == "confirm":
        current = subscriptions.filter(
            program=_program(refs), status=SubscriptionStatus.ACTIVE, last_event_id=OuterRef(refs.event)
        )
        return {"suppressed": suppressed, "undeliverable": undeliverable, "consent_changed": ~Q(Exists(current))}
    if kind == "optin_req":
        pending = subscriptions.filter(
            program=_program(refs),
            status=SubscriptionStatus.PENDING,
            last_event_id=OuterRef(refs.event),
            pending_expires_at__gt=timezone.now(),
        )
        return {
            "suppressed": suppressed,
            "undeliverable": undeliverable,
            "asked_back": number_last_act_is_opt_out_q(phone_ref=f"{fields}phone"),
            "not_pending": ~Q(Exists(pending)),
        }
    if kind == "stop_conf":
        opt_out = ConsentEvent.objects.filter(pk=OuterRef(refs.event), contact_id=contact, kind=ConsentKind.OPT_OUT)
        return {"not_an_opt_out": ~Q(Exists(opt_out))}
    if kind == "reply":
        live = subscriptions.filter(status__in=(SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING))
        revoked = Q(Exists(subscriptions.filter(status=SubscriptionStatus.OPTED_OUT))) & ~Q(Exists(live))
        return {"suppressed": suppressed, "opted_out": revoked}
    return {}  # "help": a reply to the person's own text, whatever their consent


def number_last_act_is_opt_out_q(*, phone_ref: str) -> Q:
    """True when the number's latest own act is an opt-out: one after the last opt-in it texted itself.

    By number (the ledger keeps the number of each event), so it survives a contact moved to another number.
    """
    own_opt_ins = ConsentEvent.objects.filter(
        phone=OuterRef(OuterRef(phone_ref)), kind=ConsentKind.OPT_IN, method=ConsentMethod.KEYWORD
    ).order_by("-id").values("id")[:1]
    later_opt_out = ConsentEvent.objects.filter(
        phone=OuterRef(phone_ref), kind=ConsentKind.OPT_OUT, id__gt=Coalesce(Subquery(own_opt_ins), 0)
    )
    return Q(Exists(later_opt_out))


def send_allowed_q(*, kind: str, refs: SendRefs = MESSAGE_ROWS) -> Q:
    """True on the rows where no blocker of `kind` applies."""
    allowed = Q()
    for condition in send_blockers(kind=kind, refs=refs).values():
        allowed &= ~condition
    return allowed


def consent_sendable_q(*, program, contact_ref: str = "pk", prefix: str = "") -> Q:
    """A Q on rows leading to a contact, true when the contact may get marketing for `program` now.

    The campaign rule of `send_blockers`, for audiences (`Contact` rows) and campaign messages.
    """
    return send_allowed_q(kind="campaign", refs=SendRefs(contact=contact_ref, contact_fields=prefix, program=program))


def opt_out_latest_for_number(
    *, e164: str, program: Program | None = None, any_program: bool = False
) -> ConsentEvent | None:
    """The newest opt-out recorded for this number, whichever contact held it then.

    Revoke-all opt-outs, and those of `program` when one is given; with `any_program`, of any program.
    By number, not by contact: an opt-out must survive a staff edit that moves a contact to another number.
    """
    events = ConsentEvent.objects.filter(phone=e164, kind=ConsentKind.OPT_OUT)
    if not any_program:
        events = events.filter(Q(program__isnull=True) | Q(program=program) if program else Q(program__isnull=True))
    return events.order_by("-id").first()


def number_has_opt_out_on_record(*, e164: str, digest: str) -> bool:
    """True when this number ever opted out of anything, or is suppressed: only its own YES brings it back."""
    return (
        ConsentEvent.objects.filter(phone=e164, kind=ConsentKind.OPT_OUT).exists()
        or SuppressedNumber.objects.filter(digest=digest).exists()
    )


def consent_may_send(*, contact: Contact, program: Program) -> bool:
    return Contact.objects.filter(consent_sendable_q(program=program), pk=contact.pk).exists()


def contacts_sendable(*, program: Program, contacts: QuerySet | None = None) -> QuerySet:
    """Contacts (of `contacts`, default all) that may get `program` right now."""
    contacts = Contact.objects.all() if contacts is None else contacts
    return contacts.filter(consent_sendable_q(program=program))


def contact_already_opted_out(*, contact: Contact) -> bool:
    """Nothing live any more and an opt-out on record: a new opt-out gets no second confirmation."""
    live = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)
    return (
        not Subscription.objects.filter(contact=contact, status__in=live).exists()
        and ConsentEvent.objects.filter(contact=contact, kind=ConsentKind.OPT_OUT).exists()
    )


def subscription_status(*, contact: Contact, program: Program) -> str | None:
    return Subscription.objects.filter(contact=contact, program=program).values_list("status", flat=True).first()


def contact_export(*, contact: Contact) -> dict:
    """Everything we hold about one person, as JSON-ready data (GDPR access and portability)."""
    subscriptions = contact.subscriptions.select_related("program").order_by("program__slug")
    events = contact.consent_events.select_related("program", "actor").order_by("id")
    data = {
        "exported_at": timezone.now().isoformat(),
        "contact": {
            "id": contact.pk,
            "phone": str(contact.phone),
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": contact.email,
            "attributes": contact.attributes,
            "tags": list(contact.tags.values_list("name", flat=True)),
            "time_zones": [z for z in contact.time_zones.split("|") if z],
            "region": contact.region,
            "undeliverable_at": _iso(contact.undeliverable_at),
            "undeliverable_reason": contact.undeliverable_reason,
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
        },
        "subscriptions": [
            {
                "program": s.program.slug,
                "program_name": str(s.program),
                "status": s.status,
                "since": _iso(s.updated_at),
                "last_event_id": s.last_event_id,
            }
            for s in subscriptions
        ],
        "consent_events": [
            {
                "id": e.pk,
                "at": _iso(e.created_at),
                "kind": e.kind,
                "method": e.method,
                "program": e.program.slug if e.program else None,
                "all_programs": e.program_id is None,
                "phone": e.phone,
                "evidence": e.evidence,
                "actor": e.actor.get_username() if e.actor else None,
                "chain_position": e.position,  # null until sealed into the chain, moments after the change
                "hash": e.hash,
                "hash_scheme": e.hash_scheme,  # how `hash` was computed: see contacts.ledger
                "prev_hash": e.prev_hash,
            }
            for e in events.iterator(chunk_size=1000)
        ],
        "suppressed": SuppressedNumber.objects.filter(digest=contact.phone_digest).exists(),
    }
    # The message table belongs to the messaging app; reach it through its relation, not an import.
    messages = getattr(contact, "outbound_messages", None)
    if messages is not None:
        data["outbound_messages"] = [
            {**m, "created_at": _iso(m["created_at"]), "sent_at": _iso(m["sent_at"])}
            for m in messages.order_by("id")
            .values("id", "kind", "to", "body", "status", "sid", "created_at", "sent_at", "error_code", "reason")
            .iterator(chunk_size=1000)
        ]
    return data


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# -- what support agents type into a search box ---------------------------------------------------

CONTACT_SEARCH_HELP = _(
    "A phone number in any format, e.g. (415) 555-0101, its last four digits (0101), "
    "the start of a name (Ana, Ana Lo), or an exact e-mail."
)
_LAST_FOUR = re.compile(r"^\d{4}$")
_NAME = re.compile(r"^[^\W\d_][\w' .-]*$")


def contacts_search(term: str, queryset: QuerySet | None = None) -> QuerySet:
    """The contacts a support agent means: a number in any format, an exact e-mail, the last four digits, or a name.

    Every branch is an indexed match on a million contacts: the name and last-four indexes are
    expression indexes on PostgreSQL (contacts/migrations/0008_contact_search_indexes.py), which
    is why these lookups are written exactly as the indexes are (UPPER(...) LIKE 'X%', RIGHT(phone, 4)).
    """
    queryset = Contact.objects.all() if queryset is None else queryset
    term = " ".join(term.split())
    if not term:
        return queryset
    numbers = contacts_search_numbers(term)
    if numbers is not None:
        return queryset.filter(phone__in=numbers) if numbers else queryset.none()
    if _LAST_FOUR.match(term.replace("-", "")):
        return queryset.alias(phone_last_four=Right("phone", 4)).filter(phone_last_four=term.replace("-", ""))
    if "@" in term:
        return queryset.filter(email=term.lower())
    first, _space, rest = term.partition(" ")
    names = Q(first_name__istartswith=term) | Q(last_name__istartswith=term)
    if rest:  # "Ana Lopez": first name and last name; "Mary Ann" stays a first name too
        names |= Q(first_name__istartswith=first, last_name__istartswith=rest)
    return queryset.filter(names)


def contacts_search_numbers(term: str) -> list[str] | None:
    """The E.164 forms `term` may mean when `contacts_search` reads it as a whole phone number (none: nothing
    valid); None when it reads it as the last four digits, an e-mail address or a name."""
    term = " ".join(term.split())
    if not term or _LAST_FOUR.match(term.replace("-", "")) or "@" in term or _NAME.match(term):
        return None
    return phone_search_variants(term)


def contacts_search_related(queryset: QuerySet, term: str, *, field: str = "contact") -> QuerySet:
    """Rows of another list (events, subscriptions, messages) whose contact `contacts_search` finds.

    A subquery on the contacts' own indexes, then the list's index on its contact column.
    """
    if not term.strip():
        return queryset
    return queryset.filter(**{f"{field}__in": contacts_search(term).values("pk")})
