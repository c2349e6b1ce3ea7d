"""Inbound texts: check the webhook's input, store each text once, act on what it means, decide the replies.

All in one transaction, holding the sender's contact lock: once the webhook has
answered, an opt-out is committed, and no send that starts later can go out (the
gate re-checks consent under the same lock). Replies pass the gate too: they
go back in the webhook's TwiML answer, or, for a text applied late from the
spool or the backstop poll, through the outbox.

Re-subscription only by the person's own act, scoped to what they revoked:
a YES confirms only the "reply YES" request it answers; START (or a YES with no
request) restores exactly what the latest opt-out removed; a program keyword
opts in to that one program.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import (
    ConsentEvent,
    ConsentMethod,
    Contact,
    ProgramKeyword,
    Subscription,
    SubscriptionStatus,
)
from contacts.phones import phone_normalize
from contacts.selectors import contact_already_opted_out, subscription_status
from contacts.services import (
    consent_confirm_request,
    consent_opt_in,
    consent_opt_out,
    consent_restore,
    contact_get_or_create,
    contacts_lock,
)

from . import keywords as kw
from .models import InboundClassification, InboundMessage, MessageKind, MessageStatus, OutboundMessage, ReviewDecision
from .outbox import HANDED_OVER_STATUSES, outbox_queue, outbox_reply
from .selectors import (
    JOIN_REPLY_EFFECT,
    contact_has_live_subscription,
    join_options,
    join_reply_due,
    keywords_current,
    our_numbers,
    program_last_texted,
)
from .texts import (
    text_help,
    text_help_generic,
    text_how_to_join,
    text_keyword_needs_web_sign_up,
    text_opt_in_confirmation,
    text_opt_out_confirmation_generic,
)

# "YES 4821": a YES naming the code the sign-up page showed, for sign-ups we may not text first.
_YES_WITH_CODE = re.compile(r"^\W*yes\W*(\d{4})\W*$", re.IGNORECASE)
# Twilio message SIDs: SM (SMS) or MM (MMS) and 32 hex digits.
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-f]{32}$")  # an SMS or MMS SID, as Twilio writes them
# Control characters PostgreSQL or a person reading the record can't use; tabs and line breaks stay.
_CONTROL = {c for c in range(32) if chr(c) not in "\t\n\r"} | {127}


def inbound_params_clean(params: Mapping[str, str]) -> dict[str, str]:
    """The webhook's fields, NUL bytes and other control characters removed (after the signature is checked)."""
    return {_strip_control(key): _strip_control(params.get(key) or "") for key in params}


def _strip_control(text: str) -> str:
    return text.translate(dict.fromkeys(_CONTROL)) if any(ord(c) in _CONTROL for c in text) else text


def inbound_params_check(params: Mapping[str, str]) -> None:
    """Refuse (ValidationError, a 400) fields Twilio would never send: a replayed or re-split request shows here.

    The signature covers the concatenated names and values, so moving text from one field to
    another can keep it valid; a strict MessageSid, its SmsSid copies, our account and our
    numbers can't be re-split that way.
    """
    sid = params.get("MessageSid", "")
    if not MESSAGE_SID.match(sid):
        raise ValidationError("MessageSid is missing or not a Twilio message SID.")
    for copy in ("SmsSid", "SmsMessageSid"):
        if params.get(copy) not in (None, sid):
            raise ValidationError(f"{copy} differs from MessageSid.")
    if settings.TWILIO_ACCOUNT_SID and params.get("AccountSid") != settings.TWILIO_ACCOUNT_SID:
        raise ValidationError("AccountSid is not this account.")
    ours = our_numbers()
    if ours and phone_normalize(params.get("To") or "") not in ours:
        raise ValidationError("To is not one of our numbers.")
    if not (params.get("From") or "").strip():
        raise ValidationError("From is missing.")
    if len(params.get("Body") or "") > 1600 * 10:  # well past any concatenated text: not a person's reply
        raise ValidationError("Body is too long.")


@dataclass
class InboundOutcome:
    message: InboundMessage | None  # None for a repeat delivery
    replies: list[str] = field(default_factory=list)  # what goes back in the webhook's TwiML answer
    queued: list[int] = field(default_factory=list)  # replies to send through the outbox (reply_by="api")

    @property
    def duplicate(self) -> bool:
        return self.message is None


@dataclass
class _Reply:
    kind: str
    body: str
    program: object = None
    consent_event: ConsentEvent | None = None


@dataclass
class _Effect:
    text: str
    replies: list[_Reply] = field(default_factory=list)


def inbound_receive(
    *, params: Mapping[str, str], received_at: datetime | None = None, reply_by: str = "twiml"
) -> InboundOutcome:
    """Handle one inbound text (its cleaned, checked webhook fields).

    `reply_by="twiml"`: replies are decided now and returned for the webhook's answer.
    `reply_by="api"`: a text applied late (spool, backstop poll); replies are queued in the outbox and
    the caller enqueues them (`outbox_deliver`) once it has finished its own bookkeeping.
    """
    sid = params["MessageSid"].strip()
    from_number = (params.get("From") or "").strip()
    e164 = phone_normalize(from_number)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A STOP must not wait behind a bulk job's locks until Twilio gives up: past this, the webhook
            # keeps the text in the spool and answers at once.
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{settings.INBOUND_LOCK_TIMEOUT_MS}ms"])
        contact = Contact.objects.filter(phone=e164).first() if e164 else None
        if contact is not None:
            # One inbound at a time per number: a STOP and a send, or two STOPs, never interleave.
            contacts_lock([contact.pk])
        result = _classify(params)
        routed = _unsure_from_subscriber(result, contact)
        if routed:
            result = replace(result, meaning=kw.REVIEW)
        message = InboundMessage(
            sid=sid[:40],
            from_number=(e164 or from_number)[:20],
            to_number=(params.get("To") or "")[:20],
            body=params.get("Body") or "",
            contact=contact,
            classification=result.meaning,
            keyword=result.keyword[:60],
            decided_by=result.rule[:120],
            explanation=(result.why() + (" " + _ROUTED if routed else ""))[:400],
            guess=result.guess if result.meaning == kw.REVIEW else "",
            opt_out_type=(params.get("OptOutType") or "").strip().upper()[:10],
            params=dict(params),
            received_at=received_at or timezone.now(),
            review_decision=ReviewDecision.PENDING if result.meaning == kw.REVIEW else "",
        )
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:  # the provider retried a webhook we already handled
            return InboundOutcome(message=None)
        effect = _HANDLERS[result.meaning](message, result, e164)
        sent = [_reply_send(message, reply, reply_by) for reply in effect.replies]
        answered = [m.body for m in sent if m.status == MessageStatus.REPLIED]
        held = [f"{m.get_kind_display()}: {m.reason}" for m in sent if m.status == MessageStatus.SKIPPED]
        message.effect = "; ".join([effect.text, *(f"not sent ({h})" for h in held)])[:200]
        message.reply = "\n\n".join(m.body for m in sent if m.status != MessageStatus.SKIPPED)
        message.save(update_fields=["contact", "effect", "reply"])
    queued = [m.pk for m in sent if m.status == MessageStatus.PENDING]
    return InboundOutcome(message=message, replies=answered, queued=queued)


def _reply_send(message: InboundMessage, reply: _Reply, reply_by: str) -> OutboundMessage:
    fields = {
        "kind": reply.kind, "body": reply.body, "contact": message.contact, "program": reply.program,
        "consent_event": reply.consent_event, "in_reply_to": message,
    }  # fmt: skip
    if message.contact is None:
        fields["to"] = message.from_number
    if reply_by == "twiml":
        return outbox_reply(**fields)
    return outbox_queue(**fields, deliver=False)


def _classify(params: Mapping[str, str]) -> kw.Classification:
    body = params.get("Body") or ""
    if not params.get("OptOutType") and _YES_WITH_CODE.match(body):
        return kw.Classification(kw.OPT_IN, "yes", "code")
    candidate = "".join(w for w in kw.normalize(body).split() if not kw.is_symbol(w)).upper()  # emoji aside
    program_keywords = (
        list(ProgramKeyword.objects.filter(keyword=candidate).values_list("keyword", flat=True))
        if 0 < len(candidate) <= 30
        else []
    )
    return kw.classify(
        body, keywords=keywords_current(), program_keywords=program_keywords, opt_out_type=params.get("OptOutType", "")
    )


_ROUTED = "Sent to review because the number has a live subscription: nothing that might revoke it is ignored."


def _unsure_from_subscriber(result: kw.Classification, contact: Contact | None) -> bool:
    """An unclear reply from a number with an active or pending subscription goes to a person."""
    return result.meaning == kw.OTHER and not result.confident and contact_has_live_subscription(contact=contact)


def _twilio_answers(message: InboundMessage) -> bool:
    """Twilio's Advanced Opt-Out already replied to this one: a second reply would be one too many."""
    if not settings.TWILIO_ADVANCED_OPT_OUT:
        return False
    exact = {kw.normalize(k) for k in settings.TWILIO_ADVANCED_OPT_OUT_KEYWORDS}
    return bool(message.opt_out_type) or kw.normalize(message.body) in exact


def _evidence(message: InboundMessage, result: kw.Classification) -> dict:
    return {
        "message_sid": message.sid,
        "body": message.body,
        "keyword": result.keyword,
        "match": result.how,
        "from": message.from_number,
        "to": message.to_number,
        "opt_out_type": message.opt_out_type,
        "received_at": message.received_at.isoformat(),
    }


def _contact_for(message: InboundMessage, e164: str) -> Contact:
    if message.contact is None:
        contact, _ = contact_get_or_create(phone=e164)
        contacts_lock([contact.pk])
        message.contact = contact
    return message.contact


def _on_opt_out(message, result, e164) -> _Effect:
    if not e164:
        return _Effect("not a number we text: nothing to revoke")
    try:
        contact = _contact_for(message, e164)
    except ValidationError:  # unknown, and not a number we would ever accept for texting
        return _Effect("not a number we text: nothing to revoke")
    already = contact_already_opted_out(contact=contact)  # read before the opt-out below changes the answer
    last_program = program_last_texted(contact=contact)
    brand = last_program.brand if last_program else settings.SMS_DEFAULT_BRAND
    scope = last_program if settings.CONSENT_OPT_OUT_SCOPE == "program" else None
    event = consent_opt_out(
        contact=contact, program=scope, method=ConsentMethod.KEYWORD, evidence=_evidence(message, result)
    )
    if already:
        return _Effect("opt-out recorded again; already opted out, so no second confirmation")
    if _twilio_answers(message):
        return _Effect("opted out; Twilio's Advanced Opt-Out sent the confirmation")
    confirmation = _Reply(MessageKind.STOP_CONFIRMATION, text_opt_out_confirmation_generic(brand), consent_event=event)
    return _Effect("opted out", [confirmation])


def _request_answered(contact: Contact) -> OutboundMessage | None:
    """The "reply YES" request a YES from this contact answers: the latest one we handed over, still in its window."""
    window = timezone.now() - timedelta(hours=settings.CONSENT_PENDING_EXPIRY_HOURS)
    return (
        OutboundMessage.objects.filter(
            contact=contact, kind=MessageKind.OPT_IN_REQUEST, status__in=HANDED_OVER_STATUSES, created_at__gte=window
        )
        .order_by("-id")
        .first()
    )


def _on_opt_in(message, result, e164) -> _Effect:
    contact = message.contact
    if contact is None:
        return _how_to_join(message, e164)
    evidence = _evidence(message, result)
    code = _YES_WITH_CODE.match(message.body)
    if code:
        return _confirm_by_code(message, contact, code.group(1), evidence)
    request = _request_answered(contact) if result.keyword == "yes" else None
    if request is not None:
        event = consent_confirm_request(
            contact=contact, request_event_id=request.consent_event_id, method=ConsentMethod.KEYWORD,
            evidence={**evidence, "answers_message": request.pk},
        )  # fmt: skip
        if event is None:
            return _Effect("YES to a request that no longer waits (confirmed or expired): nothing changed")
        return _confirmed(message, [event], f"confirmed {event.program.slug} (double opt-in)")
    events = consent_restore(contact=contact, method=ConsentMethod.KEYWORD, evidence=evidence)
    if not events:
        return _Effect("nothing to confirm or restore")
    return _confirmed(message, events, "subscribed again to " + ", ".join(e.program.slug for e in events))


def _confirm_by_code(message, contact: Contact, code: str, evidence: dict) -> _Effect:
    """YES with a sign-up's code: that one pending sign-up, and no other, becomes active."""
    pending = Subscription.objects.filter(contact=contact, status=SubscriptionStatus.PENDING).select_related(
        "last_event"
    )
    waiting = next((s for s in pending if s.last_event.evidence.get("confirm_code") == code), None)
    event = waiting and consent_confirm_request(
        contact=contact, request_event_id=waiting.last_event_id, method=ConsentMethod.KEYWORD,
        evidence={**evidence, "confirm_code": code},
    )  # fmt: skip
    if not event:
        return _Effect(f"YES {code}: no sign-up waits for that code; nothing changed")
    return _confirmed(message, [event], f"confirmed {event.program.slug} by its code")


def _confirmed(message: InboundMessage, events: list[ConsentEvent], summary: str) -> _Effect:
    if _twilio_answers(message):
        return _Effect(summary + "; Twilio's Advanced Opt-Out replied")
    replies = [
        _Reply(MessageKind.CONFIRMATION, text_opt_in_confirmation(e.program), program=e.program, consent_event=e)
        for e in events
    ]
    return _Effect(summary, replies)


def _how_to_join(message: InboundMessage, e164: str | None) -> _Effect:
    """START from a number we don't know: one reply saying how to join (see `join_reply_due`)."""
    options = join_options()
    if not e164 or options is None or _twilio_answers(message) or not join_reply_due(phone=e164, message=message):
        return _Effect("unknown number: nothing to confirm or restore")
    return _Effect(JOIN_REPLY_EFFECT, [_Reply(MessageKind.HELP_REPLY, text_how_to_join(options))])


def _on_program_keyword(message, result, e164) -> _Effect:
    keyword = ProgramKeyword.objects.select_related("program").filter(keyword=result.keyword.upper()).first()
    if keyword is None or not keyword.program.is_active or not e164:
        return _Effect("program keyword for an inactive program or an unusable number: ignored")
    program = keyword.program
    contact = _contact_for(message, e164)
    if program.age_gated:
        url = f"{settings.PUBLIC_BASE_URL}/join/{program.slug}/"
        reply = _Reply(MessageKind.HELP_REPLY, text_keyword_needs_web_sign_up(program, url), program=program)
        return _Effect("age-gated program: sent to the web sign-up", [reply])
    if subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE:
        reply = _Reply(MessageKind.HELP_REPLY, text_opt_in_confirmation(program), program=program)
        return _Effect(f"already subscribed to {program.slug}", [reply])
    event = consent_opt_in(
        contact=contact, program=program, method=ConsentMethod.KEYWORD, evidence=_evidence(message, result)
    )
    reply = _Reply(MessageKind.CONFIRMATION, text_opt_in_confirmation(program), program=program, consent_event=event)
    return _Effect(f"subscribed to {program.slug} by keyword", [reply])


def _on_help(message, result, e164) -> _Effect:
    if _twilio_answers(message):
        return _Effect("help; Twilio's Advanced Opt-Out replied")
    program = program_last_texted(contact=message.contact) if message.contact else None
    if program:
        return _Effect(f"help for {program.slug}", [_Reply(MessageKind.HELP_REPLY, text_help(program), program)])
    generic = text_help_generic(settings.SMS_DEFAULT_BRAND, settings.SMS_DEFAULT_HELP_CONTACT)
    return _Effect("help (no program)", [_Reply(MessageKind.HELP_REPLY, generic)])


def _on_review(message, result, e164) -> _Effect:
    return _Effect("waiting for a support agent")


def _on_other(message, result, e164) -> _Effect:
    return _Effect("")


_HANDLERS = {
    kw.OPT_OUT: _on_opt_out,
    kw.OPT_IN: _on_opt_in,
    kw.PROGRAM: _on_program_keyword,
    kw.HELP: _on_help,
    kw.REVIEW: _on_review,
    kw.OTHER: _on_other,
}
assert set(_HANDLERS) == set(InboundClassification.values)
