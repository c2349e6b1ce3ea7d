"""Reads for messaging: the current keyword lists, and the program a number's texts are about."""

import logging

from django.conf import settings
from django.core.cache import cache

from contacts.models import Contact, Program, Subscription, SubscriptionStatus
from contacts.phones import phone_normalize

from .keywords import DEFAULT_KEYWORDS, KeywordSet, keyword_set
from .models import KeywordMatch, KeywordMeaning, KeywordRule, OutboundMessage

log = logging.getLogger(__name__)

KEYWORDS_CACHE_KEY = "messaging:keywords:v1"


def keywords_current() -> KeywordSet:
    """The keyword lists staff edit in the admin (cached briefly); the defaults when none are stored."""
    try:
        cached = cache.get(KEYWORDS_CACHE_KEY)
    except Exception:  # a cache outage must not stop opt-outs; the database still answers
        log.exception("keyword cache unavailable")
        cached = None
    if cached is not None:
        return cached
    found = _keywords_from_database()
    try:
        cache.set(KEYWORDS_CACHE_KEY, found, settings.SMS_KEYWORD_CACHE_SECONDS)
    except Exception:
        log.exception("keyword cache unavailable")
    return found


def keywords_cache_clear() -> None:
    cache.delete(KEYWORDS_CACHE_KEY)


def _keywords_from_database() -> KeywordSet:
    rules = list(KeywordRule.objects.filter(is_active=True).values_list("text", "meaning", "match"))
    if not KeywordRule.objects.exists():
        return DEFAULT_KEYWORDS

    def pick(meaning, match):
        return [text for text, m, kind in rules if m == meaning and kind == match]

    return keyword_set(
        opt_out_words=pick(KeywordMeaning.OPT_OUT, KeywordMatch.WORD),
        opt_in_words=pick(KeywordMeaning.OPT_IN, KeywordMatch.WORD),
        help_words=pick(KeywordMeaning.HELP, KeywordMatch.WORD),
        review_words=pick(KeywordMeaning.REVIEW, KeywordMatch.WORD),
        opt_out_phrases=pick(KeywordMeaning.OPT_OUT, KeywordMatch.PHRASE),
        review_phrases=pick(KeywordMeaning.REVIEW, KeywordMatch.PHRASE),
    )


def our_numbers() -> set[str]:
    """The numbers people text us at, in E.164 (empty: not configured, so an inbound `To` is not checked)."""
    numbers = [settings.TWILIO_FROM_NUMBER, *settings.TWILIO_INBOUND_NUMBERS]
    return {n for n in (phone_normalize(x) for x in numbers if x) if n}


def program_last_texted(*, contact: Contact) -> Program | None:
    """The program of the last text we sent this contact, else of their latest subscription."""
    program_id = (
        OutboundMessage.objects.filter(contact=contact, program__isnull=False)
        .order_by("-id")
        .values_list("program_id", flat=True)
        .first()
    )
    if program_id is None:
        subscriptions = Subscription.objects.filter(contact=contact).order_by("-updated_at")
        active = subscriptions.filter(status=SubscriptionStatus.ACTIVE).values_list("program_id", flat=True).first()
        program_id = active or subscriptions.values_list("program_id", flat=True).first()
    return Program.objects.filter(pk=program_id).first() if program_id else None
