"""Admin-only JSON for the campaign change page: the live preview and sending progress.

Both are mounted by `CampaignAdmin.get_urls` behind `admin_site.admin_view`,
so only logged-in staff reach them; each also checks the model permission.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.template import TemplateSyntaxError
from django.views.decorators.http import require_GET, require_POST

from messaging.segments import segment_info

from .models import Campaign
from .rendering import contact_fields, message_compose
from .selectors import (
    EXCLUSION_REASONS,
    PROGRESS_LABELS,
    AudienceParams,
    campaign_audience_breakdown,
    campaign_cost,
    campaign_progress,
    campaign_sample_contact,
    campaign_skip_reasons,
)

# Typing in the body doesn't change who the campaign reaches: two minutes of caching
# keeps keystrokes from recounting a million contacts (seconds) each time. The
# confirmation page always counts afresh.
PREVIEW_CACHE_SECONDS = 120

# What the preview renders when the audience is empty.
PLACEHOLDER_FIELDS = {"first_name": "", "last_name": ""}


def campaign_summary(*, body: str, params: AudienceParams, cache_seconds: int = 0) -> dict:
    """Everything staff decide on before sending: the text, its segments, who gets it and what it costs.

    Shared by the live preview and the confirmation pages so both show the same numbers.
    """
    breakdown = campaign_audience_breakdown(params, cache_seconds=cache_seconds)
    # The counts say whether a search for a sample can find anything; on a big empty audience it can't, slowly.
    sample = campaign_sample_contact(params, sendable_exists=breakdown["sendable"] > 0) if breakdown["total"] else None
    fields = contact_fields(sample) if sample else dict(PLACEHOLDER_FIELDS)
    text = message_compose(body=body, program=params.program, contact_fields=fields)
    info = segment_info(text)
    return {
        "text": text,
        "sample": _sample_label(sample),
        "characters": info.characters,
        "encoding": info.encoding,
        "segments": info.segments,
        "non_gsm": list(info.non_gsm),
        "audience": breakdown,
        "excluded_rows": [
            {"reason": reason, "label": _reason_label(reason, label), "count": breakdown["excluded"][reason]}
            for reason, label in EXCLUSION_REASONS.items()
        ],
        "cost": campaign_cost(recipients=breakdown["sendable"], segments=info.segments),
    }


def _reason_label(reason: str, label: str) -> str:
    if reason == "frequency_cap" and settings.FREQUENCY_CAP_ACTION == "defer":
        return f"{label} (sent later)"
    return label


def _sample_label(contact) -> str:
    if contact is None:
        return "no contact in this audience yet (placeholders left empty)"
    # Staff see the sample's first name and the end of its number, enough to recognise it.
    name = contact.first_name or "a contact without a first name"
    return f"{name} (…{str(contact.phone)[-4:]})"


def preview_params(model_admin, request) -> tuple[str, AudienceParams | None, dict]:
    """Read body and audience from the change form as posted, or from the saved campaign when the
    page is read-only. Returns (body, params, field errors)."""
    campaign = None
    if request.POST.get("campaign_id"):
        campaign = get_object_or_404(Campaign, pk=request.POST["campaign_id"])
        if not model_admin.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
    if "body" not in request.POST and campaign is not None:
        return campaign.body, AudienceParams.of(campaign), {}

    form_class = model_admin.get_form(request, campaign, change=campaign is not None)
    form = form_class(data=request.POST, instance=campaign)
    form.full_clean()
    errors = {name: [str(e) for e in form.errors[name]] for name in ("program", "tags", "attribute_filters", "body")
              if name in form.errors}  # fmt: skip
    program = form.cleaned_data.get("program")
    if program is None:
        return request.POST.get("body", ""), None, errors
    params = AudienceParams(
        program=program,
        tag_ids=tuple(t.pk for t in form.cleaned_data.get("tags") or ()),
        attribute_filters=form.cleaned_data.get("attribute_filters") or {},
    )
    return request.POST.get("body", ""), params, errors


@require_POST
def campaign_preview_view(request, *, model_admin):
    if not (model_admin.has_view_or_change_permission(request) or model_admin.has_add_permission(request)):
        raise PermissionDenied
    body, params, errors = preview_params(model_admin, request)
    # A field nobody has filled in yet is not a mistake yet: say what the preview needs instead.
    empty_body = not body.strip()
    if empty_body:
        errors.pop("body", None)
    if params is None:
        errors.pop("program", None)
        return JsonResponse({"ok": False, "errors": errors, "hint": "Choose a program to see who this reaches."})
    if "attribute_filters" in errors:
        return JsonResponse({"ok": False, "errors": errors})
    try:
        summary = campaign_summary(body=body, params=params, cache_seconds=PREVIEW_CACHE_SECONDS)
    except (ValidationError, TemplateSyntaxError) as error:
        messages = error.messages if isinstance(error, ValidationError) else [str(error)]
        return JsonResponse({"ok": False, "errors": {**errors, "body": messages}})
    if empty_body:
        summary.update(
            text="", characters=0, segments=0, non_gsm=[], hint="Type the message to see it as people will receive it.",
            cost=campaign_cost(recipients=summary["audience"]["sendable"], segments=0),
        )  # fmt: skip
    return JsonResponse({"ok": True, "errors": errors, **summary})


def campaign_progress_payload(campaign: Campaign) -> dict:
    progress = campaign_progress(campaign)
    progress["labels"] = PROGRESS_LABELS
    progress["skip_reasons"] = campaign_skip_reasons(campaign) if progress["buckets"]["skipped"] else []
    return progress


@require_GET
def campaign_progress_view(request, object_id, *, model_admin):
    campaign = get_object_or_404(Campaign, pk=object_id)
    if not model_admin.has_view_or_change_permission(request, campaign):
        raise PermissionDenied
    return JsonResponse(campaign_progress_payload(campaign))
