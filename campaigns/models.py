"""Campaigns: one message body sent to a program's consenting audience."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")  # being built; nothing is sent
    SCHEDULED = "scheduled", _("Scheduled")  # starts at `send_at` (the beat task picks it up)
    SENDING = "sending", _("Sending")  # audience materialised; workers are sending
    PAUSED = "paused", _("Paused")  # workers claim nothing until resumed
    COMPLETED = "completed", _("Completed")  # nothing left to send
    CANCELLED = "cancelled", _("Cancelled")  # stopped for good; unsent messages cancelled


class Campaign(models.Model):
    name = models.CharField(max_length=120)
    program = models.ForeignKey(
        "contacts.Program", on_delete=models.PROTECT, related_name="campaigns",
        help_text=_("The consent this campaign relies on: only active subscribers get it."),
    )  # fmt: skip
    body = models.TextField(
        help_text=_("Personalise with {{ first_name }}; use {{ first_name|default:'there' }} for a fallback.")
    )
    # Audience: the program's active subscribers, narrowed to contacts having ALL these tags
    # and whose attributes match every key/value in `attribute_filters` (exact match).
    tags = models.ManyToManyField("contacts.Tag", blank=True, related_name="+")
    attribute_filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    send_at = models.DateTimeField(null=True, blank=True, help_text=_("Leave empty to send as soon as it is started."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Filled when sending starts: who was left out and why ({"opted_out": 12, ...}), and how many got a row.
    excluded_counts = models.JSONField(default=dict, blank=True, editable=False)
    audience_size = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The audience build walks contact ids in ranges; the cursor makes a crashed build resume where it stopped.
    audience_cursor = models.BigIntegerField(default=0, editable=False)
    audience_built_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("send_campaign", "Can send, schedule, pause, resume and cancel campaigns")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "send_at"], name="campaign_due")]

    def __str__(self):
        return self.name


class StateRule(models.Model):
    """A state's sending window and frequency cap (compliance rules kept as editable data).

    The federal window (settings `QUIET_HOURS_DEFAULT_START/END`) always applies;
    a state rule narrows it for numbers whose area code belongs to the state.
    """

    region = models.CharField(max_length=2, unique=True, help_text=_("US state code, e.g. FL."))
    start = models.TimeField(help_text=_("Earliest local time to send."))
    end = models.TimeField(help_text=_("Local time by which sending stops."))
    sunday_start = models.TimeField(null=True, blank=True, help_text=_("A different window on Sundays (Texas)."))
    sunday_end = models.TimeField(null=True, blank=True)
    no_sundays = models.BooleanField(default=False, help_text=_("Never send on Sundays."))
    frequency_cap_count = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("At most this many marketing texts per contact per window; empty = none.")
    )
    frequency_cap_hours = models.PositiveSmallIntegerField(default=24)
    source = models.CharField(max_length=200, blank=True, help_text=_("Statute or source this rule follows."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["region"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="state_rule_window_order"),
        ]

    def __str__(self):
        return self.region


class StaffPreference(models.Model):
    """A staff user's own time zone for the admin; without one, the site's (`STAFF_TIME_ZONE`) applies."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="staff_preference"
    )
    time_zone = models.CharField(
        max_length=64, help_text=_("Times in the admin are shown, and entered, in this time zone.")
    )

    class Meta:
        verbose_name = _("my time zone")
        verbose_name_plural = _("my time zone")

    def __str__(self):
        return self.time_zone
