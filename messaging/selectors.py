"""Reads for messaging: the current vocabulary, the program a number's texts are about, how to join."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache

from contacts.models import Contact, Program, ProgramKeyword, Subscription, SubscriptionStatus, SuppressedNumber
from contacts.phones import phone_digest, phone_normalize

from .keywords import DEFAULT_KEYWORDS, KeywordSet, Term, keyword_set
from .models import InboundMessage, KeywordRule, OutboundMessage

log = logging.getLogger(__name__)

# Bumped whenever a rule changes, so every process recompiles its vocabulary on its next reply.
KEYWORDS_VERSION_KEY = "messaging:keywords:version"


@dataclass
class _Compiled:
    version: object
    built_at: float
    keywords: KeywordSet | None
    checked_at: float = 0.0


# The compiled vocabulary, one per process: compiling costs tens of milliseconds, reading a reply
# with it tens of microseconds, so a STOP never pays for the compile or for unpickling it.
_compiled = _Compiled(version=None, built_at=0.0, keywords=None)
# How often a process asks the cache whether a rule changed: a cache round trip costs more than
# reading a reply, and a rule change reaching every process within a second is soon enough.
VERSION_CHECK_SECONDS = 1.0


def keywords_current() -> KeywordSet:
    """The vocabulary staff edit in the admin, compiled; the defaults when no rule is stored.

    Recompiled when a rule changes (the version in the cache moves, looked at once a second) and
    at least every SMS_KEYWORD_CACHE_SECONDS, which also covers edits made outside the admin and
    a cache outage.
    """
    global _compiled
    now = time.monotonic()
    current = _compiled
    fresh = current.keywords is not None and now - current.built_at < settings.SMS_KEYWORD_CACHE_SECONDS
    if fresh and now - current.checked_at < VERSION_CHECK_SECONDS:
        return current.keywords
    version = _keywords_version()
    if fresh and current.version == version:
        current.checked_at = now
        return current.keywords
    keywords = _keywords_from_database()
    _compiled = _Compiled(version=version, built_at=now, keywords=keywords, checked_at=now)
    return keywords


def keywords_cache_clear() -> None:
    """Make every process recompile the vocabulary: call after changing a KeywordRule."""
    global _compiled
    _compiled = _Compiled(version=None, built_at=0.0, keywords=None)
    try:
        try:
            cache.incr(KEYWORDS_VERSION_KEY)
        except ValueError:  # not set yet
            cache.set(KEYWORDS_VERSION_KEY, 1, None)
    except Exception:  # the other processes catch up within SMS_KEYWORD_CACHE_SECONDS
        log.exception("keyword cache unavailable")


def _keywords_version() -> object:
    try:
        return cache.get(KEYWORDS_VERSION_KEY, 0)
    except Exception:  # a cache outage must not stop opt-outs; the time limit still applies
        log.exception("keyword cache unavailable")
        return _compiled.version


def keywords_without(*, rule_id: int) -> KeywordSet:
    """The stored vocabulary as if one rule weren't there (compiled afresh: for checking an edit of that rule)."""
    return _keywords_from_database(exclude=rule_id)


def _keywords_from_database(exclude: int | None = None) -> KeywordSet:
    if not KeywordRule.objects.exists():
        return DEFAULT_KEYWORDS
    rows = KeywordRule.objects.filter(is_active=True).exclude(pk=exclude).values_list(
        "pk", "text", "meaning", "match", "language", "source"
    )
    return keyword_set(Term(text, meaning, match, lang, source, pk) for pk, text, meaning, match, lang, source in rows)


def contact_has_live_subscription(*, contact: Contact | None) -> bool:
    """An active or pending subscription: a reply from this contact might be revoking it."""
    live = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)
    return contact is not None and Subscription.objects.filter(contact=contact, status__in=live).exists()


@dataclass(frozen=True)
class JoinOptions:
    brand: str
    keywords: list[tuple[str, str]]  # (keyword, program name) for programs that take a keyword opt-in
    url: str  # a public sign-up page, when there is one


def join_options(*, limit: int = 3) -> JoinOptions | None:
    """How an unknown number can join: the active programs' keywords, or a sign-up page. None: nothing to join."""
    programs = list(Program.objects.filter(is_active=True).order_by("pk")[: limit + 1])
    if not programs:
        return None
    keywords = list(
        ProgramKeyword.objects.filter(program__in=[p for p in programs if not p.age_gated])
        .order_by("program_id", "keyword")
        .values_list("keyword", "program__name")[:limit]
    )
    brand = settings.SMS_DEFAULT_BRAND or (programs[0].brand if len(programs) == 1 else "")
    url = f"{settings.PUBLIC_BASE_URL}/join/{programs[0].slug}/" if len(programs) == 1 or not keywords else ""
    return JoinOptions(brand=brand, keywords=keywords, url=url)


JOIN_REPLY_EFFECT = "unknown number: told how to join"


def join_reply_due(*, phone: str, message: InboundMessage) -> bool:
    """Whether to tell this unknown number how to join: never a suppressed number, at most once per interval."""
    if SuppressedNumber.objects.filter(digest=phone_digest(phone)).exists():
        return False
    since = message.received_at - timedelta(hours=settings.SMS_JOIN_REPLY_INTERVAL_HOURS)
    told = InboundMessage.objects.filter(from_number=phone, received_at__gte=since, effect=JOIN_REPLY_EFFECT)
    return not told.exclude(pk=message.pk).exists()


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
