"""Inbound texts: store each once, act on what it means, and decide the reply, in one transaction.

Once the webhook has answered, an opt-out is committed: no send that starts
later can go out (the send path re-checks consent under the same contact lock).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    ProgramKeyword,
    Subscription,
    SubscriptionStatus,
)
from contacts.phones import phone_normalize
from contacts.selectors import subscription_status
from contacts.services import consent_confirm_pending, consent_opt_in, consent_opt_out, contact_get_or_create

from . import keywords as kw
from .models import InboundClassification, InboundMessage, ReviewDecision
from .selectors import (
    JOIN_REPLY_EFFECT,
    contact_has_live_subscription,
    join_options,
    join_reply_due,
    keywords_current,
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


@dataclass
class InboundOutcome:
    message: InboundMessage | None  # None for a repeat delivery
    replies: list[str] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return self.message is None


@dataclass
class _Effect:
    text: str
    replies: list[str] = field(default_factory=list)


def inbound_receive(*, params: Mapping[str, str]) -> InboundOutcome:
    """Handle one inbound webhook (its form fields). Raises ValidationError without a MessageSid."""
    sid = (params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid") or "").strip()
    if not sid:
        raise ValidationError("MessageSid is missing.")
    from_number = (params.get("From") or "").strip()
    e164 = _e164_or_none(from_number)
    with transaction.atomic():
        # One inbound at a time per number: a STOP and a send, or two STOPs, never interleave.
        contact = Contact.objects.select_for_update().filter(phone=e164).first() if e164 else None
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
            params={key: params.get(key) for key in params},
            received_at=timezone.now(),
            review_decision=ReviewDecision.PENDING if result.meaning == kw.REVIEW else "",
        )
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:  # the provider retried a webhook we already handled
            return InboundOutcome(message=None)
        effect = _HANDLERS[result.meaning](message, result, e164)
        message.effect = effect.text[:200]
        message.reply = "\n\n".join(effect.replies)
        message.save(update_fields=["contact", "effect", "reply"])
    return InboundOutcome(message=message, replies=effect.replies)


def _e164_or_none(raw: str) -> str | None:
    # Lenient on purpose: a short code or an alphanumeric sender gives None, but any real number
    # finds its contact, even one that would fail today's stricter checks for new numbers.
    return phone_normalize(raw)


def _classify(params: Mapping[str, str]) -> kw.Classification:
    body = params.get("Body") or ""
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
    }


def _contact_for(message: InboundMessage, e164: str) -> Contact:
    if message.contact is None:
        contact, _ = contact_get_or_create(phone=e164)
        message.contact = Contact.objects.select_for_update().get(pk=contact.pk)
    return message.contact


def _already_opted_out(contact: Contact) -> bool:
    live = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)
    return (
        not Subscription.objects.filter(contact=contact, status__in=live).exists()
        and ConsentEvent.objects.filter(contact=contact, kind=ConsentKind.OPT_OUT).exists()
    )


def _on_opt_out(message, result, e164) -> _Effect:
    if not e164:
        return _Effect("not a number we text: nothing to revoke")
    try:
        contact = _contact_for(message, e164)
    except ValidationError:  # unknown, and not a number we would ever accept for texting
        return _Effect("not a number we text: nothing to revoke")
    already = _already_opted_out(contact)  # read before the opt-out below changes the answer
    last_program = program_last_texted(contact=contact)
    brand = last_program.brand if last_program else settings.SMS_DEFAULT_BRAND
    scope = last_program if settings.CONSENT_OPT_OUT_SCOPE == "program" else None
    consent_opt_out(contact=contact, program=scope, method=ConsentMethod.KEYWORD, evidence=_evidence(message, result))
    if already:
        return _Effect("opt-out recorded again; already opted out, so no second confirmation")
    if _twilio_answers(message):
        return _Effect("opted out; Twilio's Advanced Opt-Out sent the confirmation")
    return _Effect("opted out", [text_opt_out_confirmation_generic(brand)])


def _on_opt_in(message, result, e164) -> _Effect:
    contact = message.contact
    if contact is None:
        return _how_to_join(message, e164)
    evidence = _evidence(message, result)
    programs = [event.program for event in consent_confirm_pending(
        contact=contact, method=ConsentMethod.KEYWORD, evidence=evidence
    )]  # fmt: skip
    restorable = Subscription.objects.filter(
        contact=contact, status=SubscriptionStatus.OPTED_OUT, program__is_active=True
    ).select_related("program")
    for subscription in restorable:
        consent_opt_in(contact=contact, program=subscription.program, method=ConsentMethod.KEYWORD, evidence=evidence)
        programs.append(subscription.program)
    if not programs:
        return _Effect("nothing to confirm or restore")
    summary = "subscribed again to " + ", ".join(p.slug for p in programs)
    if _twilio_answers(message):
        return _Effect(summary + "; Twilio's Advanced Opt-Out replied")
    return _Effect(summary, [text_opt_in_confirmation(p) for p in programs])


def _how_to_join(message: InboundMessage, e164: str | None) -> _Effect:
    """START from a number we don't know: one reply saying how to join (see `join_reply_due`)."""
    options = join_options()
    if not e164 or options is None or _twilio_answers(message) or not join_reply_due(phone=e164, message=message):
        return _Effect("unknown number: nothing to confirm or restore")
    return _Effect(JOIN_REPLY_EFFECT, [text_how_to_join(options)])


def _on_program_keyword(message, result, e164) -> _Effect:
    keyword = ProgramKeyword.objects.select_related("program").filter(keyword=result.keyword.upper()).first()
    if keyword is None or not keyword.program.is_active or not e164:
        return _Effect("program keyword for an inactive program or an unusable number: ignored")
    program = keyword.program
    contact = _contact_for(message, e164)
    if program.age_gated:
        url = f"{settings.PUBLIC_BASE_URL}/join/{program.slug}/"
        return _Effect("age-gated program: sent to the web sign-up", [text_keyword_needs_web_sign_up(program, url)])
    if subscription_status(contact=contact, program=program) == SubscriptionStatus.ACTIVE:
        return _Effect(f"already subscribed to {program.slug}", [text_opt_in_confirmation(program)])
    consent_opt_in(contact=contact, program=program, method=ConsentMethod.KEYWORD, evidence=_evidence(message, result))
    return _Effect(f"subscribed to {program.slug} by keyword", [text_opt_in_confirmation(program)])


def _on_help(message, result, e164) -> _Effect:
    if _twilio_answers(message):
        return _Effect("help; Twilio's Advanced Opt-Out replied")
    program = program_last_texted(contact=message.contact) if message.contact else None
    if program:
        return _Effect(f"help for {program.slug}", [text_help(program)])
    generic = text_help_generic(settings.SMS_DEFAULT_BRAND, settings.SMS_DEFAULT_HELP_CONTACT)
    return _Effect("help (no program)", [generic])


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
