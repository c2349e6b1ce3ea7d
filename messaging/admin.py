"""Admin for messaging: the outbox, inbound replies, the review queue and the keyword lists.

Lists stay fast at millions of rows: no full counts, related rows joined,
searches that hit an index (numbers, last four digits, name starts, SIDs; not free text).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.selectors import contacts_search_numbers, contacts_search_related

from .inbound import MESSAGE_SID
from .keywords import normalize, opt_out_shadowed
from .models import (
    InboundClassification,
    InboundMessage,
    KeywordMeaning,
    KeywordRule,
    OutboundMessage,
    ReviewDecision,
    ReviewItem,
)
from .selectors import keywords_cache_clear, keywords_current, keywords_without
from .services import inbound_reply_by_staff, inbound_review_dismiss, inbound_review_opt_out


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: nobody adds, edits or deletes them here."""

    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts are full scans at millions of rows

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _looks_like_sid(term: str) -> bool:
    return bool(MESSAGE_SID.match(term.strip()))


class RepliesSearch:
    """Replies by SID, by the number they came from (strangers have no contact), or by whatever finds their contact."""

    search_fields = ("=sid",)  # shows the box; anything but a SID is matched on indexes below
    search_help_text = _(
        "A number in any format, a contact's last four digits or the start of a name, or a message SID."
    )

    def get_search_results(self, request, queryset, search_term):
        if _looks_like_sid(search_term) or not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        numbers = contacts_search_numbers(search_term)
        if numbers is not None:  # a whole number: every reply it sent, a stranger's too (index inbound_from)
            return queryset.filter(from_number__in=numbers), False
        return contacts_search_related(queryset, search_term), False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("created", "to", "status", "campaign", "short_body", "error_code")
    list_filter = ("status", "kind")
    list_select_related = ("campaign",)
    raw_id_fields = ("contact", "program", "campaign")
    search_fields = ("=sid",)
    search_help_text = _(
        "A contact's number in any format, its last four digits, the start of a name, or a message SID."
    )
    date_hierarchy = None
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]

    @admin.display(description=_("created"), ordering="-id")
    def created(self, obj):
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("body"))
    def short_body(self, obj):
        return obj.body[:60] + ("…" if len(obj.body) > 60 else "")

    def get_search_results(self, request, queryset, search_term):
        # A SID as it is; anything else through the contact (number, last four, name): both indexed, unlike `to`.
        if _looks_like_sid(search_term):
            return super().get_search_results(request, queryset, search_term)
        return contacts_search_related(queryset, search_term), False


def _why(obj) -> str:
    """The stored explanation, shortened for a list; the whole of it on hover and on the detail page."""
    text = obj.explanation or "—"
    short = text if len(text) <= 110 else text[:108] + "…"
    return format_html('<span title="{}">{}</span>', text, short)


class StaffReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your reply"),
        max_length=1600,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Goes to the person as a text from our number, recorded with your user name. Not sent to a "
                    "number that opted out of everything or is on the do-not-text list."),
    )  # fmt: skip


@admin.register(InboundMessage)
class InboundMessageAdmin(RepliesSearch, ReadOnlyAdmin):
    list_display = (
        "received_at", "from_number", "body", "classification", "why", "effect", "review_decision", "reply_link"
    )  # fmt: skip
    list_filter = ("classification", "review_decision")
    list_select_related = ("contact",)
    raw_id_fields = ("contact", "reviewed_by")
    readonly_fields = [f.name for f in InboundMessage._meta.fields]

    @admin.display(description=_("why"))
    def why(self, obj):
        return _why(obj)

    @admin.display(description=_("reply"))
    def reply_link(self, obj):
        url = reverse("admin:messaging_inboundmessage_reply", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Reply"))

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return shown if self.has_reply_permission(request) else [f for f in shown if f != "reply_link"]

    def has_reply_permission(self, request):
        return request.user.has_perm("messaging.reply_inboundmessage")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:pk>/reply/", view(self.reply_view), name="messaging_inboundmessage_reply"),
                *super().get_urls()]  # fmt: skip

    def reply_view(self, request, pk):
        """A support agent answers one text; the gate decides whether it may go (see SEND_RULES["reply"])."""
        if not self.has_reply_permission(request):
            raise PermissionDenied
        inbound = get_object_or_404(InboundMessage.objects.select_related("contact"), pk=pk)
        form = StaffReplyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                inbound_reply_by_staff(message_id=inbound.pk, body=form.cleaned_data["body"], actor=request.user)
            except ValidationError as refused:
                form.add_error(None, refused)
            else:
                self.message_user(request, _("Reply to %(number)s queued.") % {"number": inbound.from_number})
                return HttpResponseRedirect(reverse("admin:messaging_inboundmessage_changelist"))
        thread = OutboundMessage.objects.filter(to=inbound.from_number).order_by("-id")[:5]
        return TemplateResponse(request, "admin/messaging/inboundmessage/reply.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": _("Reply to %s") % inbound.from_number,
            "inbound": inbound, "form": form, "thread": thread,
        })  # fmt: skip


@admin.register(ReviewItem)
class ReviewQueueAdmin(RepliesSearch, ReadOnlyAdmin):
    """Replies that might be opt-outs. One click decides; the decision is recorded with who and when."""

    list_display = ("received_at", "from_number", "body", "best_guess", "why", "last_text_we_sent", "decide")
    list_display_links = None
    list_select_related = ("contact",)
    ordering = ("received_at",)  # oldest first: the law's clock is running on them
    actions = ("opt_out_selected", "dismiss_selected")

    def changelist_view(self, request, extra_context=None):
        title = _("Replies that might be opt-outs: decide each one")
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    def has_view_permission(self, request, obj=None):
        return self.has_review_permission(request)

    def has_module_permission(self, request):
        return self.has_review_permission(request)

    def has_review_permission(self, request):
        return request.user.has_perm("messaging.review_inboundmessage")

    def get_queryset(self, request):
        last_sent = OutboundMessage.objects.filter(contact_id=OuterRef("contact_id")).order_by("-id").values("body")[:1]
        return (
            super()
            .get_queryset(request)
            .filter(review_decision=ReviewDecision.PENDING)
            .annotate(last_sent_body=Subquery(last_sent))
        )

    @admin.display(description=_("best guess"))
    def best_guess(self, obj):
        if obj.guess:
            return InboundClassification(obj.guess).label
        return _("Unclear")

    @admin.display(description=_("why it is here"))
    def why(self, obj):
        return _why(obj)

    @admin.display(description=_("last text we sent them"))
    def last_text_we_sent(self, obj):
        return (obj.last_sent_body or "—")[:80]

    @admin.display(description=_("decision"))
    def decide(self, obj):
        # The buttons submit the change list's own form, so its CSRF token comes along.
        return format_html(
            '<button type="submit" class="button" formaction="{}" aria-label="{} {}">{}</button> '
            '<button type="submit" class="button" formaction="{}" aria-label="{} {}">{}</button>',
            reverse("admin:messaging_reviewitem_opt_out", args=[obj.pk]), _("Opt out"), obj.from_number, _("Opt out"),
            reverse("admin:messaging_reviewitem_dismiss", args=[obj.pk]), _("Dismiss"), obj.from_number, _("Dismiss"),
        )  # fmt: skip

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/opt-out/", view(self.opt_out_view), name="messaging_reviewitem_opt_out"),
            path("<int:pk>/dismiss/", view(self.dismiss_view), name="messaging_reviewitem_dismiss"),
            *super().get_urls(),
        ]

    def _decide_one(self, request, pk, service, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_review_permission(request):
            raise PermissionDenied
        item = get_object_or_404(InboundMessage, pk=pk)
        if service(message_id=item.pk, actor=request.user):
            self.message_user(request, done % {"number": item.from_number}, messages.SUCCESS)
        else:
            self.message_user(request, _("Someone already decided that reply."), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:messaging_reviewitem_changelist"))

    def opt_out_view(self, request, pk):
        return self._decide_one(request, pk, inbound_review_opt_out, _("%(number)s is opted out of every program."))

    def dismiss_view(self, request, pk):
        return self._decide_one(request, pk, inbound_review_dismiss, _("Reply from %(number)s dismissed."))

    @admin.action(description=_("Opt out the selected numbers"), permissions=["review"])
    def opt_out_selected(self, request, queryset):
        ids = queryset.values_list("pk", flat=True)
        done = sum(inbound_review_opt_out(message_id=pk, actor=request.user) for pk in ids)
        self.message_user(request, _("%(count)d number(s) opted out.") % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Dismiss the selected replies (not opt-outs)"), permissions=["review"])
    def dismiss_selected(self, request, queryset):
        ids = queryset.values_list("pk", flat=True)
        done = sum(inbound_review_dismiss(message_id=pk, actor=request.user) for pk in ids)
        self.message_user(request, _("%(count)d reply(ies) dismissed.") % {"count": done}, messages.SUCCESS)


class KeywordRuleForm(forms.ModelForm):
    class Meta:
        model = KeywordRule
        fields = ["text", "meaning", "match", "language", "is_active", "source", "note"]

    def clean(self):
        data = super().clean()
        text, meaning = data.get("text") or "", data.get("meaning")
        if text and not normalize(text):
            self.add_error("text", _("Use at least one letter, digit or emoji: punctuation and spaces are ignored."))
        elif text and meaning and meaning != KeywordMeaning.OPT_OUT:
            # Checked against the vocabulary without this rule, so an opt-out rule can be given another meaning
            # only when no other opt-out word or phrase covers its text.
            vocabulary = keywords_without(rule_id=self.instance.pk) if self.instance.pk else keywords_current()
            shadowed = opt_out_shadowed(text, meaning=meaning, keywords=vocabulary)
            if shadowed:
                self.add_error(
                    "text",
                    _(
                        "“%(text)s” would shadow the opt-out “%(word)s”: a reply with it must always opt out, "
                        "so it can't mean “%(meaning)s”. Use other words, or make the rule an opt-out."
                    )
                    % {"text": text, "word": shadowed, "meaning": KeywordMeaning(meaning).label},
                )
        return data


@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    form = KeywordRuleForm
    list_display = ("text", "meaning", "match", "language", "is_active", "in_use", "short_source")
    list_filter = ("meaning", "match", "language", "is_active")
    search_fields = ("text",)
    list_editable = ("is_active",)

    @admin.display(description=_("source"), ordering="source")
    def short_source(self, obj):
        short = obj.source if len(obj.source) <= 40 else obj.source[:38] + "…"
        return format_html('<span title="{}">{}</span>', obj.source, short) if obj.source else "—"

    @admin.display(description=_("in use"))
    def in_use(self, obj):
        if not obj.is_active:
            return _("No: switched off")
        ignored = {term.rule_id: shadowed for term, shadowed in keywords_current().ignored}
        if obj.pk in ignored:
            return _("No: it would shadow the opt-out “%(word)s”") % {"word": ignored[obj.pk]}
        return _("Yes")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        keywords_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        keywords_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        keywords_cache_clear()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "subtitle": _("The FCC's seven opt-out words always apply; no rule can shadow an opt-out."),
        }
        return super().changelist_view(request, extra_context)
