"""The contacts admin: find people fast, see their consent history, and change consent only with evidence.

Views here are thin: forms validate, `contacts.services` writes, and every
consent change lands in the ledger with the acting staff user.
"""

import csv
import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from messaging.models import MessageStatus
from messaging.services import consent_text_queue

from .forms import ContactAdminForm, ContactImportForm, OptInForm, OptOutForm, SuppressedNumberAddForm
from .imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ImportRejected, contacts_import_csv
from .models import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    Contact,
    Program,
    Subscription,
    SubscriptionStatus,
    SuppressedNumber,
    Tag,
)
from .pagination import EstimatedCountPaginator
from .phones import US_STATES, phone_digest, phone_search_variants
from .selectors import CONTACT_SEARCH_HELP, contact_export, contacts_search, contacts_search_related
from .services import (
    consent_opt_in_on_behalf,
    consent_opt_out,
    contact_get_or_create,
    contact_update_phone_facts,
    number_suppress,
)

# Each opt-out is its own ledger event; bigger batches belong in an import, not a click.
OPT_OUT_ACTION_LIMIT = 500


class ConsentEventDisplay:
    """How one ledger event reads, on its own page and in a contact's history: the same fields, the same words."""

    class Media:
        css = {"all": ["contacts/consent_history.css"]}

    @admin.display(description=_("recorded at"), ordering="created_at")
    def recorded_at(self, event):
        # To the second, with the zone: evidence is read against a carrier's log or the person's phone.
        return date_format(timezone.localtime(event.created_at), "Y-m-d H:i:s T")

    @admin.display(description=_("program"))
    def program_or_all(self, event):
        return event.program or _("All programs")

    @admin.display(description=_("evidence"))
    def evidence_readable(self, event):
        # Fields recorded empty (no age gate, no opt-out type) say nothing; the data export keeps them.
        shown = [(key, value) for key, value in (event.evidence or {}).items() if value not in ("", None)]
        if not shown:
            return "—"
        return format_html(
            "<dl class='consent-evidence'>{}</dl>",
            format_html_join(
                "",
                "<dt>{}</dt><dd>{}</dd>",
                (
                    (key.replace("_", " "), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
                    for key, value in shown
                ),
            ),
        )


# --- Contacts list filters ----------------------------------------------------------


class ProgramFilter(admin.SimpleListFilter):
    title = _("program")
    parameter_name = "program"

    def lookups(self, request, model_admin):
        return [(str(p.pk), str(p)) for p in Program.objects.all()]

    def queryset(self, request, queryset):
        # With a consent status chosen too, ConsentStatusFilter applies both in one EXISTS.
        if self.value() and not request.GET.get(ConsentStatusFilter.parameter_name):
            return queryset.filter(Exists(Subscription.objects.filter(contact=OuterRef("pk"), program_id=self.value())))
        return queryset


class ConsentStatusFilter(admin.SimpleListFilter):
    title = _("consent status (in the chosen program, or any)")
    parameter_name = "consent"
    NONE = "none"

    def lookups(self, request, model_admin):
        return [*SubscriptionStatus.choices, (self.NONE, _("No consent record"))]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        subscriptions = Subscription.objects.filter(contact=OuterRef("pk"))
        program_id = request.GET.get(ProgramFilter.parameter_name, "")
        if program_id.isdigit():  # anything else in the URL is no program: ignored, never a 500
            subscriptions = subscriptions.filter(program_id=program_id)
        if value == self.NONE:
            return queryset.filter(~Exists(subscriptions))
        return queryset.filter(Exists(subscriptions.filter(status=value)))


class RegionFilter(admin.SimpleListFilter):
    """US state from the area code. A fixed list: a DISTINCT over a million rows is not a filter menu."""

    title = _("state (from area code)")
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return sorted(((code, f"{code} · {name}") for name, code in US_STATES.items()), key=lambda c: c[0])

    def queryset(self, request, queryset):
        return queryset.filter(region=self.value()) if self.value() else queryset


# --- Inlines: consent history, read-only ----------------------------------------------------


class ReadOnlyMixin:
    """Nobody adds, changes or deletes here, superusers included: evidence is only ever read."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ["program", "status", "updated_at", "pending_expires_at", "last_event"]
    readonly_fields = fields
    verbose_name_plural = _("Consent by program (current)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program", "last_event")


class ConsentEventInline(ConsentEventDisplay, ReadOnlyInline):
    model = ConsentEvent
    fields = ["recorded_at", "kind", "program_or_all", "method", "evidence_readable", "actor"]
    readonly_fields = fields
    ordering = ["-id"]
    verbose_name_plural = _("Consent history (ledger, newest first)")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program", "actor")


# --- Contacts ---------------------------------------------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ["phone", "first_name", "last_name", "email", "region", "consent_summary", "created_at"]
    list_display_links = ["phone"]
    list_filter = [ConsentStatusFilter, ProgramFilter, RegionFilter]
    list_select_related = False  # no foreign keys; subscriptions are prefetched per page
    search_fields = ["phone"]  # shows the box; matching is indexed (get_search_results)
    search_help_text = CONTACT_SEARCH_HELP
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice (50+ states): never on a million rows.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    list_per_page = 50
    autocomplete_fields = ["tags"]
    readonly_fields = ["region", "time_zones", "undeliverable_at", "undeliverable_reason", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["phone", "first_name", "last_name", "email", "tags", "attributes"]}),
        (
            _("Derived from the number"),
            {"fields": ["region", "time_zones", "undeliverable_at", "undeliverable_reason"]},
        ),
        (_("Record"), {"fields": ["created_at", "updated_at"]}),
    ]
    actions = ["opt_out_selected"]

    # -- list -----------------------------------------------------------------------------

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("subscriptions", queryset=Subscription.objects.select_related("program")))
        )

    def get_search_results(self, request, queryset, search_term):
        return contacts_search(search_term, queryset) if search_term.strip() else queryset, False

    @admin.display(description=_("consent"))
    def consent_summary(self, contact):
        subscriptions = contact.subscriptions.all()  # prefetched
        if not subscriptions:
            return "—"
        return format_html_join(
            ", ", "<span class='consent-{}'>{}: {}</span>",
            ((s.status, s.program.slug, s.get_status_display()) for s in subscriptions),
        )  # fmt: skip

    def get_inlines(self, request, obj):
        return [SubscriptionInline, ConsentEventInline] if obj else []

    # -- permissions ----------------------------------------------------------------------------

    def has_opt_out_permission(self, request):
        return request.user.has_perm("contacts.opt_out_contact")

    def has_opt_in_permission(self, request):
        return request.user.has_perm("contacts.opt_in_contact")

    def has_export_permission(self, request):
        return request.user.has_perm("contacts.export_contact")

    def has_import_permission(self, request):
        return request.user.has_perm("contacts.import_contacts")

    def _require(self, request, allowed: bool):
        if not (allowed and self.has_view_or_change_permission(request)):
            raise PermissionDenied

    # -- add / change through the services -------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            if "phone" in form.changed_data:
                contact_update_phone_facts(contact=obj)
            return
        contact, created = contact_get_or_create(
            phone=form.cleaned_data["phone"],
            first_name=obj.first_name,
            last_name=obj.last_name,
            email=obj.email,
            attributes=obj.attributes,
        )
        if not created:  # a concurrent add won the race after the form's uniqueness check
            raise ValidationError(_("A contact with this phone number already exists."))
        obj.pk = contact.pk
        obj.refresh_from_db()

    # -- extra pages ------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="contacts_contact_import"),
            path("<path:object_id>/opt-out/", wrap(self.opt_out_view), name="contacts_contact_opt_out"),
            path("<path:object_id>/opt-in/", wrap(self.opt_in_view), name="contacts_contact_opt_in"),
            path("<path:object_id>/export/", wrap(self.export_view), name="contacts_contact_export"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_opt_out": self.has_opt_out_permission(request),
            "can_opt_in": self.has_opt_in_permission(request),
            "can_export": self.has_export_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import": self.has_import_permission(request)}
        return super().changelist_view(request, extra_context)

    def _page(self, request, template, title, **context):
        return TemplateResponse(
            request,
            f"admin/contacts/contact/{template}",
            {**self.admin_site.each_context(request), "opts": self.opts, "title": title, **context},
        )

    def _contact_or_404(self, object_id) -> Contact:
        return get_object_or_404(Contact, pk=object_id)

    def _change_url(self, contact):
        return reverse("admin:contacts_contact_change", args=[contact.pk])

    @admin.action(description=_("Opt out selected contacts (asks for a reason)"), permissions=["opt_out"])
    def opt_out_selected(self, request, queryset):
        contacts = list(queryset[: OPT_OUT_ACTION_LIMIT + 1])
        if len(contacts) > OPT_OUT_ACTION_LIMIT:
            self.message_user(
                request, _("Select at most %(n)s contacts per opt-out.") % {"n": OPT_OUT_ACTION_LIMIT}, messages.ERROR
            )
            return None
        form = OptOutForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            with transaction.atomic():
                for contact in contacts:
                    consent_opt_out(
                        contact=contact,
                        method=ConsentMethod.ADMIN,
                        actor=request.user,
                        evidence={"reason": form.cleaned_data["reason"]},
                    )
            self.message_user(request, _("Opted out %(n)s contact(s).") % {"n": len(contacts)}, messages.SUCCESS)
            return None
        return self._page(
            request, "opt_out.html", _("Opt out contacts"),
            form=form, contacts=contacts, action_checkbox_name=ACTION_CHECKBOX_NAME, action="opt_out_selected",
        )  # fmt: skip

    def opt_out_view(self, request, object_id):
        self._require(request, self.has_opt_out_permission(request))
        contact = self._contact_or_404(object_id)
        form = OptOutForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            consent_opt_out(
                contact=contact, method=ConsentMethod.ADMIN, actor=request.user,
                evidence={"reason": form.cleaned_data["reason"]},
            )  # fmt: skip
            self.message_user(request, _("%(contact)s is opted out of every program.") % {"contact": contact})
            return HttpResponseRedirect(self._change_url(contact))
        return self._page(request, "opt_out.html", _("Opt out %(c)s") % {"c": contact}, form=form, contact=contact)

    def opt_in_view(self, request, object_id):
        self._require(request, self.has_opt_in_permission(request))
        contact = self._contact_or_404(object_id)
        form = OptInForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            program = form.cleaned_data["program"]
            try:
                with transaction.atomic():
                    event = consent_opt_in_on_behalf(
                        contact=contact, program=program, method=ConsentMethod.ADMIN, actor=request.user,
                        consent=form.consent(),
                    )  # fmt: skip
                    texted = consent_text_queue(event=event) if event else None
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if event is None:
                    done = _("%(contact)s is already subscribed to %(program)s, or waiting for their YES: "
                             "nothing was recorded.")  # fmt: skip
                elif event.kind == ConsentKind.OPT_IN:
                    done = _("%(contact)s is opted in to %(program)s; the evidence is in the ledger.")
                elif texted.status == MessageStatus.SKIPPED:
                    done = _("Consent to %(program)s is pending and no text was sent (%(reason)s). Only the person "
                             "can complete it: ask them to text YES %(code)s from their phone.")  # fmt: skip
                else:
                    done = _("%(contact)s was texted to reply YES for %(program)s; consent is pending until then.")
                code = event.evidence.get("confirm_code", "") if event else ""
                reason = texted.reason if texted else ""
                self.message_user(
                    request, done % {"contact": contact, "program": program, "code": code, "reason": reason}
                )
                return HttpResponseRedirect(self._change_url(contact))
        return self._page(
            request, "opt_in.html", _("Record consent for %(c)s") % {"c": contact}, form=form, contact=contact
        )

    def export_view(self, request, object_id):
        self._require(request, self.has_export_permission(request))
        contact = self._contact_or_404(object_id)
        response = HttpResponse(
            json.dumps(contact_export(contact=contact), indent=2, ensure_ascii=False, default=str),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
        return response

    def import_view(self, request):
        self._require(request, self.has_import_permission(request))
        form = ContactImportForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = contacts_import_csv(file=upload.file, actor=request.user, file_name=upload.name)
            except ImportRejected as rejected:
                errors = rejected.errors
            else:
                self.message_user(
                    request,
                    _("Imported %(rows)s row(s): %(created)s new contact(s), %(opt_ins)s consent record(s).")
                    % {"rows": result.rows, "created": result.contacts_created, "opt_ins": result.opt_ins},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:contacts_contact_changelist"))
        return self._page(
            request, "import.html", _("Import contacts with consent evidence"),
            form=form, errors=errors, required_columns=REQUIRED_COLUMNS, optional_columns=OPTIONAL_COLUMNS,
        )  # fmt: skip


# --- Tags ---------------------------------------------------------------------------------------------------


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


# --- Suppression list -----------------------------------------------------------------------------------------


@admin.register(SuppressedNumber)
class SuppressedNumberAdmin(admin.ModelAdmin):
    list_display = ["digest_short", "reason", "created_at"]
    search_fields = ["digest"]
    search_help_text = _("The list holds no numbers, only keyed fingerprints: type a number to look it up.")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = ["digest", "reason", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SuppressedNumberAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["phone", "reason"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        suppressed = number_suppress(phone=form.cleaned_data["phone"], reason=form.cleaned_data["reason"])
        obj.pk = suppressed.pk
        obj.refresh_from_db()

    def get_search_results(self, request, queryset, search_term):
        variants = phone_search_variants(search_term) if search_term.strip() else None
        if variants is None:
            return queryset, False
        return queryset.filter(digest__in=[phone_digest(v) for v in variants]), False

    @admin.display(description=_("number fingerprint"))
    def digest_short(self, obj):
        return f"{obj.digest[:16]}…"


# --- The ledger: read-only everywhere -----------------------------------------------------------------------


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


@admin.register(ConsentEvent)
class ConsentEventAdmin(ConsentEventDisplay, ReadOnlyAdmin):
    list_display = ["id", "created_at", "contact", "kind", "program_slug", "method", "actor"]
    list_filter = ["kind", "method", "program"]
    ordering = ["-id"]
    list_select_related = ["contact", "program", "actor"]
    search_fields = ["contact__phone"]  # shows the box; matching is indexed (get_search_results)
    search_help_text = CONTACT_SEARCH_HELP
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    fields = [
        "id", "recorded_at", "contact", "phone", "kind", "program_or_all", "method", "actor",
        "evidence_readable", "position", "prev_hash", "hash", "hash_scheme",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["export_csv"]

    def get_search_results(self, request, queryset, search_term):
        return contacts_search_related(queryset, search_term), False

    def has_export_permission(self, request):
        return request.user.has_perm("contacts.export_contact")

    @admin.display(description=_("program"), ordering="program__slug")
    def program_slug(self, event):
        return event.program.slug if event.program else _("all")

    @admin.action(description=_("Export selected events as CSV"), permissions=["export"])
    def export_csv(self, request, queryset):
        rows = queryset.select_related("program", "actor").order_by("id")
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="consent-ledger-{stamp}.csv"'
        return response


class _Echo:
    def write(self, value):
        return value


LEDGER_CSV_COLUMNS = [
    "id", "created_at", "contact_id", "phone", "kind", "program", "method", "actor", "evidence",
    "position", "prev_hash", "hash", "hash_scheme",
]  # fmt: skip


def _csv_lines(events):
    writer = csv.writer(_Echo())
    yield writer.writerow(LEDGER_CSV_COLUMNS)
    for e in events.iterator(chunk_size=2000):
        yield writer.writerow([
            e.pk, e.created_at.isoformat(), e.contact_id, e.phone, e.kind, e.program.slug if e.program else "*ALL*",
            e.method, e.actor.get_username() if e.actor else "",
            json.dumps(e.evidence, sort_keys=True, ensure_ascii=False),
            e.position or "", e.prev_hash or "", e.hash or "", e.hash_scheme or "",  # empty until sealed
        ])  # fmt: skip


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["contact", "program", "status", "updated_at", "pending_expires_at"]
    list_filter = ["status", "program"]
    list_select_related = ["contact", "program"]
    search_fields = ["contact__phone"]  # shows the box; matching is indexed (get_search_results)
    search_help_text = CONTACT_SEARCH_HELP
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator

    def get_search_results(self, request, queryset, search_term):
        return contacts_search_related(queryset, search_term), False
