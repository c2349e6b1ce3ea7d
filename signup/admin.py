"""Admin for programs (what people sign up to) and the disclosure snapshots their consent points at."""

import re

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import escape, format_html
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from contacts.models import Program, ProgramKeyword
from messaging import keywords
from messaging.selectors import keywords_current

from .models import DisclosureVersion
from .preview import program_preview_context

# What a keyword would mean to the inbound handler if it weren't a program keyword.
_TAKEN_MEANINGS = {
    keywords.OPT_OUT: _("opt out"),
    keywords.OPT_IN: _("opt in / confirm"),
    keywords.HELP: _("help"),
    keywords.REVIEW: _("a reply a person reviews"),
}


class ProgramKeywordForm(forms.ModelForm):
    class Meta:
        model = ProgramKeyword
        fields = ["keyword"]

    def clean_keyword(self) -> str:
        keyword = "".join(self.cleaned_data["keyword"].split()).upper()
        if not re.fullmatch(r"[A-Z0-9]+", keyword):
            raise forms.ValidationError(_("Use letters A–Z and digits only, in one word (e.g. DEALS)."))
        # Replies are classified before program keywords are looked at, so such a keyword could never opt in.
        read = keywords.classify(keyword, keywords=keywords_current())
        if read.meaning in _TAKEN_MEANINGS:
            raise forms.ValidationError(
                _("%(keyword)s already means “%(meaning)s” in text replies; choose another word."),
                params={"keyword": keyword, "meaning": _TAKEN_MEANINGS[read.meaning]},
            )
        # Program keywords are looked at before "plainly not an opt-out" words: THANKS would subscribe people.
        if read.how in ("no_action", "no_action_word"):
            raise forms.ValidationError(
                _("People text %(keyword)s for other reasons (thanks, OK…); choose a word only this program uses."),
                params={"keyword": keyword},
            )
        return keyword


class ProgramKeywordInline(admin.TabularInline):
    model = ProgramKeyword
    form = ProgramKeywordForm
    extra = 1
    verbose_name = _("keyword that opts a texter in")
    verbose_name_plural = _("keywords that opt a texter in")


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    change_form_template = "signup/admin/program_change_form.html"
    inlines = [ProgramKeywordInline]
    list_display = [
        "__str__", "slug", "public_page", "keyword_list", "double_opt_in", "age_gated", "is_active", "updated_at",
    ]  # fmt: skip
    list_filter = ["is_active", "double_opt_in", "age_gated"]
    search_fields = ["brand", "name", "slug", "keywords__keyword"]
    prepopulated_fields = {"slug": ["brand", "name"]}
    show_full_result_count = False
    readonly_fields = ["created_at", "updated_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["slug", "is_active"]}),
        (
            _("What people agree to (shown beside the consent checkbox and in the texts)"),
            {"fields": ["brand", "name", "description", "frequency_text", "help_contact", "terms_url", "privacy_url"]},
        ),
        (_("How people opt in"), {"fields": ["double_opt_in", "age_gated", "minimum_age"]}),
        (_("History"), {"classes": ["collapse"], "fields": ["created_at", "updated_at"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "slug":
            # The admin shows help texts as HTML, where the model's "/join/<slug>/" read "/join//".
            field.help_text = escape(db_field.help_text)
        return field

    def get_changeform_initial_data(self, request):
        return {"minimum_age": settings.CONSENT_MINIMUM_AGE_DEFAULT, **super().get_changeform_initial_data(request)}

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("keywords")

    @admin.display(description=_("Keywords"))
    def keyword_list(self, obj):
        return ", ".join(sorted(k.keyword for k in obj.keywords.all())) or "—"

    @admin.display(description=_("Public sign-up page"))
    def public_page(self, obj):
        url = reverse("signup:join", kwargs={"slug": obj.slug})
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def get_urls(self):
        preview = self.admin_site.admin_view(require_GET(self.preview_view))
        return [path("preview/", preview, name="contacts_program_preview"), *super().get_urls()]

    def preview_view(self, request):
        """The disclosure block and texts for the unsaved values in the change form, in every language."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        fields = ["brand", "name", "description", "frequency_text", "help_contact", "terms_url", "privacy_url"]
        program = Program(
            **{name: request.GET.get(name, "")[:500] for name in fields},
            double_opt_in=bool(request.GET.get("double_opt_in")),
        )
        html = render_to_string("signup/admin/_preview.html", {"previews": program_preview_context(program)})
        return HttpResponse(html)


@admin.register(DisclosureVersion)
class DisclosureVersionAdmin(admin.ModelAdmin):
    """Read-only: consent evidence points at these rows, so nobody may change or remove them."""

    list_display = ["id", "program", "language", "short_hash", "created_at"]
    list_filter = ["language"]
    list_select_related = ["program"]
    search_fields = ["sha256", "program__slug", "program__brand"]
    raw_id_fields = ["program"]
    readonly_fields = ["program", "language", "text", "sha256", "created_at"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    @admin.display(description=_("sha256"))
    def short_hash(self, obj):
        return obj.sha256[:16] + "…"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
