"""The campaign workplace for marketing staff: build, preview, test, send, watch.

Sending (tests too), scheduling, pausing, resuming and cancelling are gated by the custom
permission `campaigns.send_campaign`: the buttons are hidden without it and
the views answer 403. Every state change goes through `campaigns.services`;
the views here only ask, confirm and report.
"""

from functools import partial, update_wrapper

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import lazy
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext_lazy as _

from contacts.phones import phone_e164

from . import services
from .admin_views import (
    campaign_preview_view,
    campaign_progress_payload,
    campaign_progress_view,
    campaign_summary,
)
from .forms import CampaignForm, ScheduleForm, StaffPreferenceForm
from .models import Campaign, CampaignStatus, StaffPreference
from .selectors import EXCLUSION_REASONS, PROGRESS_LABELS, AudienceParams, campaigns_progress
from .staff_time import time_zone_label

EDITABLE_STATUSES = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
SENDABLE_FROM = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
CANCELLABLE_FROM = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED)
TEST_SEND_SESSION_KEY = "campaigns:last_test_number"
# What a confirmation covered: changing any of these on a scheduled campaign takes it back to draft.
CONFIRMED_FIELDS = {"program", "body", "tags", "attribute_filters"}
# Buttons on the change page that save the form first, then go to their confirmation page.
SAVE_THEN = {"_send_now": "send", "_schedule": "schedule", "_send_test": "send_test"}


def _when_header() -> str:
    return _("When (%s)") % timezone.get_current_timezone_name()


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
    # Few, narrow columns: the list must fit 1,280 px beside the navigation and the filters (who made a
    # campaign, and when, are on its page).
    list_display = ["name", "program_name", "status_badge", "when", "progress_bar"]
    list_filter = ["status", "program"]
    search_fields = ["name"]
    list_select_related = ["program"]
    show_full_result_count = False
    filter_horizontal = ["tags"]
    readonly_fields = ["status", "scheduled_for", "started_at", "completed_at", "created_by", "created_at"]
    actions = ["pause_selected", "resume_selected", "cancel_selected"]
    fieldsets = [
        (_("Message"), {"fields": ["name", "program", "body"]}),
        (_("Audience"), {"fields": ["tags", "attribute_filters"],
                         "description": _("Everyone subscribed to the program, narrowed to contacts having all "
                                          "these tags and matching every attribute.")}),
    ]  # fmt: skip
    sending_fields = ["status", "scheduled_for", "started_at", "completed_at", "created_by", "created_at"]

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
            return super().save_model(request, obj, form, change)
        # The row stays locked until the admin's transaction ends (the tags are saved after this), so the
        # beat can't start the campaign halfway through an edit; only the edited fields are written, so
        # a status that changed since the page was loaded is never written back.
        status = Campaign.objects.select_for_update().filter(pk=obj.pk).values_list("status", flat=True).get()
        if status not in EDITABLE_STATUSES:
            raise PermissionDenied("The campaign started sending meanwhile; it can't be edited any more.")
        obj.save(update_fields=[*(set(form.changed_data) & {"name", "program", "body", "attribute_filters"}),
                                "updated_at"])  # fmt: skip
        if status == CampaignStatus.SCHEDULED and CONFIRMED_FIELDS & set(form.changed_data):
            services.campaign_unschedule(campaign=obj, actor=request.user)
            self.message_user(request, _("The message or audience changed, so the campaign is a draft again: "
                                         "schedule it again to confirm who gets it and what it costs."),
                              messages.WARNING)  # fmt: skip

    def response_change(self, request, obj):
        if "_unschedule" in request.POST:
            if not self.has_send_permission(request):
                raise PermissionDenied
            if obj.status == CampaignStatus.SCHEDULED:  # else the edit itself already took it back to draft
                self._run(request, services.campaign_unschedule, obj, _("Unscheduled: the campaign is a draft again."))
            return redirect(self._change_url(obj))
        for button, view in SAVE_THEN.items():
            if button in request.POST:
                return redirect(reverse(f"admin:campaigns_campaign_{view}", args=[obj.pk]))
        return super().response_change(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        # Fieldset descriptions are rendered as HTML.
        description = conditional_escape(_("Times are in %s.") % time_zone_label(request))
        return [*self.fieldsets, (_("Sending"), {"fields": self.sending_fields, "description": description})]

    def get_changelist(self, request, **kwargs):
        return CampaignChangeList

    # --- list columns --------------------------------------------------------------

    @admin.display(description=_("Program"), ordering="program__name")
    def program_name(self, obj):
        return obj.program.name

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="campaign-status campaign-status--{}">{}</span>', obj.status,
                           obj.get_status_display())  # fmt: skip

    @admin.display(description=lazy(_when_header, str)())
    def when(self, obj):
        """The moment that matters for the status: when it will start, when it started, or when it ended."""
        moment = {
            CampaignStatus.SCHEDULED: obj.send_at,
            CampaignStatus.SENDING: obj.started_at,
            CampaignStatus.PAUSED: obj.started_at,
            CampaignStatus.COMPLETED: obj.completed_at,
            CampaignStatus.CANCELLED: obj.completed_at,
        }.get(obj.status)
        return date_format(timezone.localtime(moment), "M j, H:i") if moment else "—"

    @admin.display(description=_("Scheduled for"))
    def scheduled_for(self, obj):
        if obj.status != CampaignStatus.SCHEDULED or obj.send_at is None:
            return _("Not scheduled. “Schedule” picks a time and shows who gets it first.")
        return date_format(timezone.localtime(obj.send_at), "DATETIME_FORMAT")

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
            # An editable form is saved before its confirmation page opens, so no typing is lost.
            save_first=obj is not None and self.has_change_permission(request, obj),
            can_unschedule=obj is not None and obj.status == CampaignStatus.SCHEDULED,
            time_zone_label=time_zone_label(request),
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

    def _confirm_page(self, request, campaign, **extra):
        """The confirmation page, or back to the campaign with the reason when its message can't be sent."""
        try:
            summary = campaign_summary(body=campaign.body, params=AudienceParams.of(campaign))
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect(self._change_url(campaign))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": campaign,
            "title": extra.pop("title"),
            "summary": summary,
            "change_url": self._change_url(campaign),
            **extra,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/confirm_send.html", context)

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
        return self._confirm_page(request, campaign, title=_("Send “%s” now?") % campaign.name)

    def schedule_view(self, request, object_id):
        campaign = self._campaign_for_sending(request, object_id)
        initial = {"send_at": campaign.send_at} if campaign.send_at and campaign.send_at > timezone.now() else {}
        label = time_zone_label(request)
        form = ScheduleForm(request.POST or None, initial=initial, time_zone_label=label)
        if request.method == "POST" and form.is_valid():
            send_at = form.cleaned_data["send_at"]
            done = _("Scheduled for %(when)s, %(zone)s.") % {
                "when": date_format(timezone.localtime(send_at), "DATETIME_FORMAT"), "zone": label,
            }  # fmt: skip
            self._run(request, services.campaign_schedule, campaign, done, send_at=send_at)
            return redirect(self._change_url(campaign))
        return self._confirm_page(request, campaign, title=_("Schedule “%s”") % campaign.name, form=form,
                                  scheduling=True)  # fmt: skip

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


@admin.register(StaffPreference)
class StaffPreferenceAdmin(admin.ModelAdmin):
    """Each staff user's own time zone: everyone sets their own, and nobody sees anyone else's."""

    form = StaffPreferenceForm
    fields = ["time_zone"]

    def _staff(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def _own(self, request, obj) -> bool:
        return obj is None or obj.user_id == request.user.pk

    def has_module_permission(self, request):
        return self._staff(request)

    def has_view_permission(self, request, obj=None):
        return self._staff(request) and self._own(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._staff(request) and self._own(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._staff(request) and self._own(request, obj)

    def has_add_permission(self, request):
        return self._staff(request) and not StaffPreference.objects.filter(user_id=request.user.pk).exists()

    def get_queryset(self, request):
        return super().get_queryset(request).filter(user_id=request.user.pk)

    def _own_page(self, request):
        if StaffPreference.objects.filter(user_id=request.user.pk).exists():
            return redirect("admin:campaigns_staffpreference_change", request.user.pk)
        return redirect("admin:campaigns_staffpreference_add")

    def changelist_view(self, request, extra_context=None):
        # One preference per person: the list is just the way to it.
        return self._own_page(request)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            return self._own_page(request)
        return super().add_view(request, form_url, extra_context)

    def render_change_form(self, request, context, *args, **kwargs):
        context["subtitle"] = _("Without a choice here, times are in the site's time zone, %s.") % (
            settings.STAFF_TIME_ZONE
        )
        return super().render_change_form(request, context, *args, **kwargs)

    def save_model(self, request, obj, form, change):
        obj.user = request.user
        obj.save()

    def _done(self, request, obj):
        self.message_user(request, _("Times are now shown in %s.") % obj.time_zone, messages.SUCCESS)
        return redirect("admin:index")

    def response_add(self, request, obj, post_url_continue=None):
        return self._done(request, obj)

    def response_change(self, request, obj):
        return self._done(request, obj)
