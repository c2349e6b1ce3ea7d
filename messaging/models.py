"""Every text the product sends through the provider API, campaign or not.

One table serves campaigns, opt-in confirmations and test sends, so a status
callback finds its message by SID in one indexed lookup, the outbox shows
everything, and frequency caps count every marketing text a person got.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageKind(models.TextChoices):
    """What a text is for. Each kind has its own rule in `contacts.selectors.SEND_RULES` (the values match)."""

    CAMPAIGN = "campaign", _("Campaign")  # marketing; needs active consent at the moment of sending
    TEST = "test", _("Test send")  # a campaign preview, to a subscribed number only, sent by a named staff user
    CONFIRMATION = "confirm", _("Opt-in confirmation")  # CTIA confirmation of one opt-in event
    OPT_IN_REQUEST = "optin_req", _("“Reply YES” request")  # double opt-in: asks to confirm one pending event
    STOP_CONFIRMATION = "stop_conf", _("Opt-out confirmation")  # the one reply to one opt-out event
    HELP_REPLY = "help", _("HELP reply")  # answers a text the person just sent
    AGENT_REPLY = "reply", _("Reply from staff")  # a support agent answering a text the person sent


class MessageStatus(models.TextChoices):
    # Ours, before the provider has it:
    PENDING = "pending", _("Pending")  # created, waiting for a worker to claim it
    DEFERRED = "deferred", _("Deferred")  # outside quiet hours or over a cap; `send_after` says when
    RETRY = "retry", _("Retrying")  # transient provider error; tried again at `send_after`
    CLAIMED = "claimed", _("Sending")  # a worker owns it; the provider call may be in flight
    SKIPPED = "skipped", _("Skipped")  # never sent on purpose: `reason` says why (e.g. opted out)
    CANCELED = "canceled", _("Canceled")  # its campaign was cancelled before it went out
    FAILED = "failed", _("Failed")  # permanent error: `error_code` and `reason` say which
    REPLIED = "replied", _("Replied in the webhook answer")  # went back in the inbound webhook's TwiML
    # The provider's lifecycle (Twilio status callback values):
    QUEUED = "queued", _("Queued")
    ACCEPTED = "accepted", _("Accepted")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Provider sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Undelivered")
    READ = "read", _("Read")
    PARTIALLY_DELIVERED = "partially_delivered", _("Partially delivered")


# Statuses from which a message may still be claimed and sent.
SENDABLE_STATUSES = (MessageStatus.PENDING, MessageStatus.DEFERRED, MessageStatus.RETRY)
# Kinds that answer one consent event; the gate lets at most one text go out per event.
ONE_PER_EVENT_KINDS = (MessageKind.CONFIRMATION, MessageKind.OPT_IN_REQUEST, MessageKind.STOP_CONFIRMATION)


class OutboundMessage(models.Model):
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    # No single-column indexes on contact and campaign: the composite indexes below lead with them,
    # and every index more is written for each of a million rows built and each SID stored.
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="outbound_messages",
        db_index=False,
    )
    program = models.ForeignKey("contacts.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="messages", db_index=False
    )
    # The consent event a confirmation, "reply YES" request or opt-out confirmation is about.
    consent_event = models.ForeignKey(
        "contacts.ConsentEvent", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    # The text a HELP reply, opt-out confirmation or staff reply answers.
    in_reply_to = models.ForeignKey(
        "messaging.InboundMessage", on_delete=models.PROTECT, null=True, blank=True, related_name="replies",
        db_index=False,
    )  # fmt: skip
    # The staff user who asked for a test send or wrote a reply.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    to = models.CharField(max_length=20, help_text=_("E.164"))
    # Campaign bodies are rendered when the message is sent; this is what the person received.
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    send_after = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sid = models.CharField(max_length=40, null=True, blank=True)  # unique: see Meta
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=10, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text=_("When the provider accepted it."))
    status_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], condition=Q(campaign__isnull=False), name="one_message_per_recipient"
            ),
            # A constraint rather than unique=True, which on PostgreSQL adds a second, LIKE-only index.
            models.UniqueConstraint(fields=["sid"], name="outbound_sid_unique"),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="outbound_status_valid"),
            models.CheckConstraint(
                condition=Q(kind=MessageKind.CAMPAIGN, campaign__isnull=False) | ~Q(kind=MessageKind.CAMPAIGN),
                name="campaign_message_has_campaign",
            ),
            models.CheckConstraint(condition=Q(kind__in=MessageKind.values), name="outbound_kind_valid"),
            # "Exactly once per opt-in, request or opt-out", held by the database, not by a check-then-insert.
            models.UniqueConstraint(
                fields=["consent_event"],
                condition=Q(consent_event__isnull=False) & Q(kind__in=ONE_PER_EVENT_KINDS),
                name="one_text_per_consent_event",
            ),
            models.UniqueConstraint(
                fields=["in_reply_to", "kind"],
                condition=Q(in_reply_to__isnull=False) & Q(kind=MessageKind.HELP_REPLY),
                name="one_help_reply_per_text",
            ),
        ]
        indexes = [
            # Workers claim a campaign's due messages; progress counts group by status.
            models.Index(fields=["campaign", "status", "send_after"], name="outbound_claim"),
            # Frequency caps: what a contact got recently.
            models.Index(fields=["contact", "sent_at"], name="outbound_contact_recent"),
            # A contact's latest message (a STOP's program and brand): without it, PostgreSQL walks the
            # primary key backwards through every newer message of a campaign.
            models.Index(fields=["contact", "id"], name="outbound_contact_latest"),
            # Recovery of texts whose task was lost: the few non-campaign messages still waiting.
            models.Index(
                fields=["created_at"],
                condition=Q(campaign__isnull=True, status__in=["pending", "retry", "deferred", "claimed"]),
                name="outbound_single_waiting",
            ),
            # Stuck sends of any kind: claimed, no SID yet.
            models.Index(
                fields=["claimed_at"], condition=Q(status="claimed", sid__isnull=True), name="outbound_claimed_unsent"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to} ({self.status})"


class InboundClassification(models.TextChoices):
    OPT_OUT = "opt_out", _("Opt-out")  # a keyword or plain-language request: consent revoked
    OPT_IN = "opt_in", _("Opt-in again / confirm")  # START, UNSTOP, YES: restored or confirmed
    PROGRAM_KEYWORD = "program", _("Program keyword")  # a keyword opt-in to one program
    HELP = "help", _("Help")  # HELP, INFO: answered with the program's help text
    REVIEW = "review", _("Needs review")  # might be an opt-out; a support agent decides
    OTHER = "other", _("Other")  # nothing to act on


class ReviewDecision(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")  # in the review queue
    OPTED_OUT = "opted_out", _("Opted out by staff")  # an agent read it as an opt-out
    DISMISSED = "dismissed", _("Dismissed")  # an agent read it as not an opt-out


class InboundMessage(models.Model):
    """One text a person sent us, stored once per provider `sid` (the provider retries webhooks)."""

    sid = models.CharField(max_length=40, unique=True)
    from_number = models.CharField(max_length=20, help_text=_("As the provider sent it; E.164 for phone numbers."))
    to_number = models.CharField(max_length=20, blank=True)
    body = models.TextField(blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="inbound_messages"
    )
    classification = models.CharField(max_length=10, choices=InboundClassification.choices)
    keyword = models.CharField(max_length=60, blank=True, help_text=_("The keyword or phrase that decided."))
    # Why the reply was or wasn't read as a revocation: what a person answering a claim needs.
    decided_by = models.CharField(max_length=120, blank=True, help_text=_("The rule or pattern that decided."))
    explanation = models.CharField(max_length=400, blank=True, help_text=_("Why it was classified so."))
    guess = models.CharField(
        max_length=10,
        choices=InboundClassification.choices,
        blank=True,
        help_text=_("For a reply sent to review: what it most likely means."),
    )
    opt_out_type = models.CharField(max_length=10, blank=True, help_text=_("Twilio's OptOutType, when sent."))
    effect = models.CharField(max_length=200, blank=True, help_text=_("What the product did about it."))
    reply = models.TextField(blank=True, help_text=_("What we answered (TwiML)."))
    params = models.JSONField(default=dict, help_text=_("Every field the provider posted."))
    received_at = models.DateTimeField(db_index=True)
    review_decision = models.CharField(max_length=10, choices=ReviewDecision.choices, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [
            ("review_inboundmessage", "Can decide replies in the review queue"),
            ("reply_inboundmessage", "Can answer a text with a reply from staff"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(classification__in=InboundClassification.values), name="inbound_classification_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["from_number", "received_at"], name="inbound_from"),
            models.Index(fields=["classification", "received_at"], name="inbound_classification"),
            models.Index(fields=["contact", "received_at"], name="inbound_contact"),
            models.Index(fields=["received_at"], condition=Q(review_decision="pending"), name="inbound_review_queue"),
        ]

    def __str__(self):
        return f"{self.from_number}: {self.body[:40]}"


class ReviewItem(InboundMessage):
    """The review queue: replies waiting for a support agent's decision (an admin view of InboundMessage)."""

    class Meta:
        proxy = True
        verbose_name = _("reply to review")
        verbose_name_plural = _("replies to review")


class KeywordMeaning(models.TextChoices):
    OPT_OUT = "opt_out", _("Opt out")
    OPT_IN = "opt_in", _("Opt in again / confirm")
    HELP = "help", _("Help")
    REVIEW = "review", _("Might be an opt-out: send to review")
    NO_ACTION = "no_action", _("Plainly not an opt-out: leave alone")


class KeywordMatch(models.TextChoices):
    # Opt-out words also match at the start of a message ("Stop please"), at its end after words such as
    # "please" or "thanks but", and as a sentence of their own ("Not interested. Stop.").
    WORD = "word", _("The whole message")
    EXACT = "exact", _("Only the whole message or a sentence of its own")
    PHRASE = "phrase", _("Anywhere in the message")


class KeywordRule(models.Model):
    """An editable inbound keyword or phrase. The FCC's seven opt-out words always apply, whatever is here.

    A rule of another meaning that would shadow an opt-out word ("stop please" as opt-in) is refused
    by the admin and ignored by the classifier.
    """

    text = models.CharField(
        max_length=60,
        help_text=_(
            "Case, accents, punctuation and extra spaces are ignored when matching. A rule that isn't an opt-out "
            "can't contain an opt-out word or phrase (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, UNSUBSCRIBE…)."
        ),
    )
    meaning = models.CharField(max_length=10, choices=KeywordMeaning.choices)
    match = models.CharField(max_length=10, choices=KeywordMatch.choices, default=KeywordMatch.WORD)
    language = models.CharField(
        max_length=8, blank=True, help_text=_("The language it is written in (en, es, fr, pt, de, it, zh), if any.")
    )
    is_active = models.BooleanField(default=True)
    source = models.CharField(max_length=200, blank=True, help_text=_("Where this keyword comes from."))
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["meaning", "match", "text"]
        constraints = [models.UniqueConstraint(fields=["text", "match"], name="keyword_rule_unique")]

    def __str__(self):
        return f"{self.text} ({self.get_meaning_display()})"


class EarlyStatus(models.Model):
    """A status callback that arrived before its message's SID was stored.

    The provider can call back within a millisecond of answering the create,
    before the worker has committed the SID; the callback is kept here and
    applied the moment the SID is stored, instead of being lost.
    """

    sid = models.CharField(max_length=40, db_index=True)
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=10, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.sid}: {self.status}"
