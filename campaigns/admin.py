"""The campaign workplace for marketing staff: build, preview, test, send, watch.

Sending (tests too), scheduling, pausing, resuming and cancelling are gated by the custom
permission `campaigns.send_campaign`: the buttons are hidden without it and
the views answer 403. Every state change goes through `campaigns.services`;
the views here only ask, confirm and report.
"""

from functools import partial, update_wrapper

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contacts.phones import phone_e164

from . import services
from .admin_views import (
    campaign_preview_view,
    campaign_progress_payload,
    campaign_progress_view,
    campaign_summary,
)
from .audience import attribute_filters_validate
from .models import Campaign, CampaignStatus
from .selectors import EXCLUSION_REASONS, PROGRESS_LABELS, AudienceParams, campaigns_progress

EDITABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
SENDABLE_FROM = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE_FROM = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)
TEST_SEND_SESSION_KEY = "campaigns:last_test_number"


class CampaignForm(forms.ModelForm):
    attribute_filters = forms.JSONField(
        required=False,
        initial=dict,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"city": "Austin", "vip": true}'}),
        help_text=_("Only contacts whose attributes equal every value here, e.g. {\"city\": \"Austin\"}. "
                    "Leave {} for everyone."),
    )  # fmt: skip

    class Meta:
        model = Campaign
        fields = ["name", "program", "body", "tags", "attribute_filters", "send_at"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5, "spellcheck": "true"})}

    def clean_attribute_filters(self):
        value = self.cleaned_data.get("attribute_filters")
        return attribute_filters_validate({} if value in (None, "") else value)


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["send_at"].label = _("Send at (%s)") % timezone.get_current_timezone_name()

    def clean_send_at(self):
        send_at = self.cleaned_data["send_at"]
        if send_at <= timezone.now():
            raise ValidationError(_("Pick a time in the future, or use “Send now”."))
        return send_at


class SendTestForm(forms.Form):
    phone = forms.CharField(
        label=_("Staff phone number"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "(415) 555-0100"}),
    )

    def clean_phone(self):
        return phone_e164(self.cleaned_data["phone"])


class CampaignChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # One grouped query for the page's progress bars instead of one per row.
        self.result_list = list(self.result_list)
        progress = campaigns_progress(self.result_list)
        for campaign in self.result_list:
            campaign.progress = progress[campaign.pk]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ["name", "program", "status_badge", "send_at", "progress_bar", "created_by", "created_at"]
    list_filter = ["status", "program"]
    search_fields = ["name"]
    list_select_related = ["program", "created_by"]
    show_full_result_count = False
    filter_horizontal = ["tags"]
    readonly_fields = ["status", "created_by", "created_at", "started_at", "completed_at"]
    actions = ["pause_selected", "resume_selected", "cancel_selected"]
    fieldsets = [
        (_("Message"), {"fields": ["name", "program", "body"]}),
        (_("Audience"), {"fields": ["tags", "attribute_filters"],
                         "description": _("Everyone subscribed to the program, narrowed to contacts having all "
                                          "these tags and matching every attribute.")}),
        (_("Sending"), {"fields": ["send_at", "status", "started_at", "completed_at", "created_by", "created_at"]}),
    ]  # fmt: skip

    class Media:
        css = {"all": ["campaigns/campaign_admin.css"]}
        js = ["campaigns/campaign_admin.js"]

    # --- permissions -------------------------------------------------------------

    def has_send_permission(self, request, obj=None):
        return request.user.has_perm(services.SEND_PERMISSION)

    def has_delete_permission(self, request, obj=None):
        # Sent campaigns are the record of what people received.
        if obj is not None and obj.status != CampaignStatus.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # Once sending has started the campaign is the record of what people got: view only.
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_changelist(self, request, **kwargs):
        return CampaignChangeList

    # --- list columns --------------------------------------------------------------

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="campaign-status campaign-status--{}">{}</span>', obj.status,
                           obj.get_status_display())  # fmt: skip

    @admin.display(description=_("Progress"))
    def progress_bar(self, obj):
        progress = getattr(obj, "progress", None)
        if not progress or not progress["total"]:
            return "—"
        # A <progress> element, not a width in a style attribute: the Content-Security-Policy allows no inline styles.
        return format_html(
            '<progress class="campaign-minibar" max="100" value="{}" title="{} of {} processed"></progress> {}%',
            progress["percent"], progress["processed"], progress["total"], f"{progress['percent']:g}",
        )  # fmt: skip

    # --- change page ----------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            has_send_permission=self.has_send_permission(request, obj),
            can_send_test=obj is not None and obj.status in SENDABLE_FROM,
            can_send=obj is not None and obj.status in SENDABLE_FROM,
            can_pause=obj is not None and obj.status == CampaignStatus.SENDING,
            can_resume=obj is not None and obj.status == CampaignStatus.PAUSED,
            can_cancel=obj is not None and obj.status in CANCELLABLE_FROM,
            show_preview=obj is None or obj.status in EDITABLE_STATUSES,
            preview_url=reverse("admin:campaigns_campaign_preview"),
            progress=campaign_progress_payload(obj) if obj and obj.status != CampaignStatus.DRAFT else None,
            excluded_at_start=[
                (EXCLUSION_REASONS.get(reason, reason), n)
                for reason, n in (obj.excluded_counts if obj else {}).items()
                if n
            ],
            progress_buckets=PROGRESS_LABELS.items(),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        def wrap(view, **kwargs):
            wrapper = self.admin_site.admin_view(partial(view, **kwargs))
            return update_wrapper(wrapper, view)

        def name(action):
            return f"{self.opts.app_label}_{self.opts.model_name}_{action}"

        pause = wrap(
            self.transition_view, service=services.campaign_pause, done=_("Paused. Workers stop within seconds.")
        )
        resume = wrap(self.transition_view, service=services.campaign_resume, done=_("Resumed."))
        return [
            path("preview/", wrap(campaign_preview_view, model_admin=self), name=name("preview")),
            path("<path:object_id>/progress/", wrap(campaign_progress_view, model_admin=self), name=name("progress")),
            path("<path:object_id>/send/", wrap(self.send_view), name=name("send")),
            path("<path:object_id>/schedule/", wrap(self.schedule_view), name=name("schedule")),
            path("<path:object_id>/send-test/", wrap(self.send_test_view), name=name("send_test")),
            path("<path:object_id>/pause/", pause, name=name("pause")),
            path("<path:object_id>/resume/", resume, name=name("resume")),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name=name("cancel")),
            *super().get_urls(),
        ]  # fmt: skip

    # --- action views -------------------------------------------------------------

    def _campaign_for_sending(self, request, object_id) -> Campaign:
        if not self.has_send_permission(request):
            raise PermissionDenied
        return get_object_or_404(Campaign.objects.select_related("program"), pk=object_id)

    def _change_url(self, campaign) -> str:
        return reverse("admin:campaigns_campaign_change", args=[campaign.pk])

    def _confirm_context(self, request, campaign, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": extra.pop("title"),
            "summary": campaign_summary(body=campaign.body, params=AudienceParams.of(campaign)),
            "change_url": self._change_url(campaign),
            **extra,
        }

    def _run(self, request, service, campaign, done, **kwargs) -> bool:
        try:
            service(campaign=campaign, actor=request.user, **kwargs)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return False
        self.message_user(request, done, messages.SUCCESS)
        return True

    def send_view(self, request, object_id):
        campaign = self._campaign_for_sending(request, object_id)
        if request.method == "POST":
            self._run(request, services.campaign_start, campaign, _("Sending started."))
            return redirect(self._change_url(campaign))
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/confirm_send.html",
            self._confirm_context(request, campaign, title=_("Send “%s” now?") % campaign.name),
        )

    def schedule_view(self, request, object_id):
        campaign = self._campaign_for_sending(request, object_id)
        initial = {"send_at": campaign.send_at} if campaign.send_at and campaign.send_at > timezone.now() else {}
        form = ScheduleForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            send_at = form.cleaned_data["send_at"]
            done = _("Scheduled for %s.") % timezone.localtime(send_at).strftime("%Y-%m-%d %H:%M %Z")
            self._run(request, services.campaign_schedule, campaign, done, send_at=send_at)
            return redirect(self._change_url(campaign))
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/confirm_send.html",
            self._confirm_context(request, campaign, title=_("Schedule “%s”") % campaign.name, form=form,
                                  scheduling=True),
        )  # fmt: skip

    def cancel_view(self, request, object_id):
        campaign = self._campaign_for_sending(request, object_id)
        if request.method == "POST":
            self._run(request, services.campaign_cancel, campaign, _("Cancelled. Nothing more will be sent."))
            return redirect(self._change_url(campaign))
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/confirm_cancel.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": campaign,
                "title": _("Cancel “%s”?") % campaign.name,
                "progress": campaign_progress_payload(campaign),
                "change_url": self._change_url(campaign),
            },
        )

    def transition_view(self, request, object_id, *, service, done):
        campaign = self._campaign_for_sending(request, object_id)
        if request.method != "POST":
            return redirect(self._change_url(campaign))
        self._run(request, service, campaign, done)
        return redirect(self._change_url(campaign))

    def send_test_view(self, request, object_id):
        # A test text costs money and reaches a phone like a real one: same permission as sending.
        campaign = self._campaign_for_sending(request, object_id)
        initial = {"phone": request.session.get(TEST_SEND_SESSION_KEY, "")}
        form = SendTestForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            to = form.cleaned_data["phone"]
            if self._run(request, services.campaign_send_test, campaign, _("Test sent to %s.") % to, to=to):
                request.session[TEST_SEND_SESSION_KEY] = to
                return redirect(self._change_url(campaign))
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/send_test.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": campaign,
                "title": _("Send a test of “%s”") % campaign.name,
                "form": form,
                "change_url": self._change_url(campaign),
            },
        )

    # --- list actions ------------------------------------------------------------------

    def _bulk(self, request, queryset, service, done):
        changed = 0
        for campaign in queryset.select_related("program"):
            try:
                service(campaign=campaign, actor=request.user)
                changed += 1
            except ValidationError as error:
                self.message_user(request, f"{campaign}: {' '.join(error.messages)}", messages.WARNING)
        if changed:
            self.message_user(request, done % {"n": changed}, messages.SUCCESS)

    @admin.action(permissions=["send"], description=_("Pause selected campaigns"))
    def pause_selected(self, request, queryset):
        self._bulk(request, queryset, services.campaign_pause, _("Paused %(n)d campaign(s)."))

    @admin.action(permissions=["send"], description=_("Resume selected campaigns"))
    def resume_selected(self, request, queryset):
        self._bulk(request, queryset, services.campaign_resume, _("Resumed %(n)d campaign(s)."))

    @admin.action(permissions=["send"], description=_("Cancel selected campaigns"))
    def cancel_selected(self, request, queryset):
        self._bulk(request, queryset, services.campaign_cancel, _("Cancelled %(n)d campaign(s)."))
