"""Contacts, programs and the consent ledger.

Consent state changes only through `contacts.services`, which writes a ledger
event and the new `Subscription` state in one transaction. Nothing here
overrides `save()`; the database holds the invariants.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField


class Program(models.Model):
    """Something a person subscribes to, e.g. "Acme Weekly deals". Consent is per program."""

    slug = models.SlugField(unique=True, help_text=_("Used in the public sign-up URL /join/<slug>/."))
    brand = models.CharField(max_length=60, help_text=_("Who is texting, e.g. “Acme Deals”."))
    name = models.CharField(max_length=100, help_text=_("The program, e.g. “Weekly offers”."))
    description = models.TextField(help_text=_("What the messages are about, in plain words."))
    frequency_text = models.CharField(max_length=80, default="Up to 4 msgs/month")
    help_contact = models.CharField(
        max_length=120, help_text=_("A phone number, e-mail address or URL where people get help.")
    )
    terms_url = models.URLField()
    privacy_url = models.URLField()
    double_opt_in = models.BooleanField(
        default=True, help_text=_("Web sign-ups must reply YES before they are subscribed.")
    )
    age_gated = models.BooleanField(
        default=False, help_text=_("Alcohol, firearms, tobacco: ask for a date of birth before consent.")
    )
    minimum_age = models.PositiveSmallIntegerField(default=21)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["brand", "name"]

    def __str__(self):
        return f"{self.brand}: {self.name}"


class ProgramKeyword(models.Model):
    """A word that opts a texter in to a program ("DEALS"). Unique across programs."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="keywords")
    keyword = models.CharField(max_length=30, unique=True, help_text=_("Stored in upper case."))

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(keyword__regex=r"^[A-Z0-9]+$"), name="keyword_upper")]

    def __str__(self):
        return self.keyword


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    phone = PhoneNumberField(unique=True, help_text=_("E.164, e.g. +14155550101."))
    # Keyed HMAC of the number, so suppression can be checked set-based in SQL.
    phone_digest = models.CharField(max_length=64, db_index=True, editable=False)
    first_name = models.CharField(max_length=60, blank=True)
    last_name = models.CharField(max_length=60, blank=True)
    # Stored lower-case (services and the admin form normalise it) so search is an exact, indexed match.
    email = models.EmailField(blank=True, db_index=True)
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    # Derived from the number (area code) at creation; quiet hours use them.
    time_zones = models.CharField(max_length=200, blank=True, db_index=True, editable=False)
    region = models.CharField(max_length=2, blank=True, db_index=True, editable=False)
    # Set when the carrier says the number can never receive texts (21211, 21614, 30006…).
    undeliverable_at = models.DateTimeField(null=True, blank=True, editable=False)
    undeliverable_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("opt_out_contact", "Can opt a contact out (with a reason)"),
            ("opt_in_contact", "Can opt a contact back in (with evidence of consent)"),
            ("export_contact", "Can export contacts and consent evidence"),
            ("import_contacts", "Can import contacts with consent evidence"),
        ]

    def __str__(self):
        return str(self.phone)


class ConsentKind(models.TextChoices):
    PENDING = "pending", _("Opt-in requested (awaiting confirmation)")  # double opt-in started
    OPT_IN = "opt_in", _("Opted in")  # consent given (first time, confirmed, or again after an opt-out)
    OPT_OUT = "opt_out", _("Opted out")  # consent revoked
    EXPIRED = "expired", _("Pending opt-in expired")  # never confirmed in time


class ConsentMethod(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    WEB = "web", _("Web opt-out page")  # /optout/: revocation by any reasonable means
    KEYWORD = "keyword", _("Text message keyword")
    ADMIN = "admin", _("Staff (admin)")
    IMPORT = "import", _("Import")
    CARRIER = "carrier", _("Carrier / provider")
    API = "api", _("API")
    SYSTEM = "system", _("System")


class LedgerImmutableError(Exception):
    pass


class ConsentEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerImmutableError("Consent ledger events are append-only.")

    def delete(self):
        raise LedgerImmutableError("Consent ledger events are append-only.")

    update.queryset_only = True
    delete.queryset_only = True


class HashScheme(models.TextChoices):
    """How an event's `hash` was computed when it was sealed (see `contacts.ledger`)."""

    SHA256 = "sha256", _("SHA-256, unkeyed")  # events sealed before the chain was keyed; never written now
    HMAC_SHA256 = "hmac-sha256", _("HMAC-SHA256 with LEDGER_HMAC_KEY")  # every seal since


class ConsentEvent(models.Model):
    """One row of the append-only, hash-chained consent ledger.

    A row is appended unsealed; the sealer then fills `position`, `prev_hash`,
    `hash` (an HMAC over prev_hash, the position, the id and the content, keyed from the
    environment) and `hash_scheme` once; see `contacts.ledger`. Rows are
    otherwise never updated or deleted: the ORM refuses, and on PostgreSQL a
    trigger refuses too, TRUNCATE included.
    """

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="consent_events")
    phone = models.CharField(max_length=20, help_text=_("The number as it was when consent changed."))
    # NULL program = every program (a revoke-all opt-out).
    program = models.ForeignKey(Program, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=10, choices=ConsentKind.choices)
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    evidence = models.JSONField(
        default=dict,
        help_text=_("Disclosure text and hash, form URL, IP, user agent, language, message SID and body, reason."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(db_index=True)
    # Empty until sealed into the chain, moments after the consent change commits.
    position = models.BigIntegerField(null=True, blank=True, unique=True, help_text=_("Place in the hash chain."))
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    hash_scheme = models.CharField(max_length=12, choices=HashScheme.choices, null=True, blank=True)

    objects = ConsentEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["contact", "id"]),
            models.Index(fields=["id"], condition=models.Q(position__isnull=True), name="consentevent_unsealed"),
            # Opt-outs by number (not by contact): they must survive a contact moved to another number.
            models.Index(fields=["phone", "id"], condition=models.Q(kind="opt_out"), name="consentevent_optout_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(hash_scheme__isnull=True) | Q(hash_scheme__in=HashScheme.values),
                name="consentevent_hash_scheme_valid",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.phone}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise LedgerImmutableError("Consent ledger events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutableError("Consent ledger events are append-only.")


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", _("Pending confirmation")  # waiting for the YES reply
    ACTIVE = "active", _("Subscribed")  # may be sent marketing for this program
    OPTED_OUT = "opted_out", _("Opted out")  # revoked; never text until a new opt-in
    EXPIRED = "expired", _("Expired")  # pending never confirmed


class Subscription(models.Model):
    """Current consent of one contact for one program: a cache of the ledger, written with it."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices)
    last_event = models.ForeignKey(ConsentEvent, on_delete=models.PROTECT, related_name="+")
    pending_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "program"], name="one_subscription_per_program"),
            models.CheckConstraint(condition=Q(status__in=SubscriptionStatus.values), name="subscription_status_valid"),
        ]
        indexes = [
            # The audience query: everyone ACTIVE in a program.
            models.Index(fields=["program", "status", "contact"], name="subscription_audience"),
            models.Index(
                fields=["pending_expires_at"], condition=Q(status="pending"), name="subscription_pending_expiry"
            ),
        ]

    def __str__(self):
        return f"{self.contact} · {self.program} · {self.get_status_display()}"


class SuppressedNumber(models.Model):
    """A number never to be texted again, stored only as a keyed HMAC (survives erasure)."""

    digest = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.digest[:12]}… ({self.reason})"
