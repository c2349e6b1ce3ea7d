"""Every text the product sends through the provider API, campaign or not.

One table serves campaigns, opt-in confirmations and test sends, so a status
callback finds its message by SID in one indexed lookup, the outbox shows
everything, and frequency caps count every marketing text a person got.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class MessageKind(models.TextChoices):
    CAMPAIGN = "campaign", _("Campaign")  # marketing; needs active consent at the moment of sending
    CONFIRMATION = "confirm", _("Opt-in confirmation")  # CTIA confirmation or "reply YES" request
    TEST = "test", _("Test send")  # a campaign preview sent to a staff number


class MessageStatus(models.TextChoices):
    # Ours, before the provider has it:
    PENDING = "pending", _("Pending")  # created, waiting for a worker to claim it
    DEFERRED = "deferred", _("Deferred")  # outside quiet hours or over a cap; `send_after` says when
    RETRY = "retry", _("Retrying")  # transient provider error; tried again at `send_after`
    CLAIMED = "claimed", _("Sending")  # a worker owns it; the provider call may be in flight
    SKIPPED = "skipped", _("Skipped")  # never sent on purpose: `reason` says why (e.g. opted out)
    CANCELED = "canceled", _("Canceled")  # its campaign was cancelled before it went out
    FAILED = "failed", _("Failed")  # permanent error: `error_code` and `reason` say which
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


class OutboundMessage(models.Model):
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="outbound_messages"
    )
    program = models.ForeignKey("contacts.Program", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, null=True, blank=True, related_name="messages"
    )
    to = models.CharField(max_length=20, help_text=_("E.164"))
    # Campaign bodies are rendered when the message is sent; this is what the person received.
    body = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    send_after = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sid = models.CharField(max_length=40, null=True, blank=True, unique=True)
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
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="outbound_status_valid"),
            models.CheckConstraint(
                condition=Q(kind=MessageKind.CAMPAIGN, campaign__isnull=False) | ~Q(kind=MessageKind.CAMPAIGN),
                name="campaign_message_has_campaign",
            ),
        ]
        indexes = [
            # Workers claim a campaign's due messages; progress counts group by status.
            models.Index(fields=["campaign", "status", "send_after"], name="outbound_claim"),
            # Frequency caps: what a contact got recently.
            models.Index(fields=["contact", "sent_at"], name="outbound_contact_recent"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to} ({self.status})"
