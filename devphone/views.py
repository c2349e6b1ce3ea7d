"""The development phone, under the admin: staff only, and nothing at all unless `DEV_PHONE_ENABLED`.

The page works without JavaScript (a form that posts and comes back); the
script adds sending without a reload and polls `thread/` so a text a worker
sends appears by itself.
"""

from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Contact

from .forms import ReplyForm, number_clean
from .selectors import phone_numbers_recent, phone_thread
from .services import inbound_url, phone_refusal, phone_reply_send


def devphone_view(view):
    """Refused (404) unless the phone is on; then the admin's own staff-only guard, CSRF and no caching."""
    guarded = admin.site.admin_view(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.DEV_PHONE_ENABLED:
            raise Http404("The development phone is off.")
        return guarded(request, *args, **kwargs)

    return wrapper


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _page_url(number: str = "") -> str:
    url = reverse("devphone:phone")
    return f"{url}?{urlencode({'number': number})}" if number else url


@devphone_view
@require_GET
def phone_page(request):
    raw = request.GET.get("number", "").strip()
    number, number_error = "", ""
    if raw:
        try:
            number = number_clean(raw)
        except ValidationError as error:
            number_error = " ".join(error.messages)
    contact = Contact.objects.filter(phone=number).first() if number else None
    context = {
        **admin.site.each_context(request),
        "title": _("Phone (development)"),
        "number": number,
        "number_input": number or raw,
        "number_error": number_error,
        "numbers": phone_numbers_recent(),
        "items": phone_thread(number=number) if number else [],
        "refusal": phone_refusal(),
        "sender": settings.TWILIO_FROM_NUMBER,
        "webhook_url": inbound_url(),
        "contact_url": reverse("admin:contacts_contact_change", args=[contact.pk])
        if contact and request.user.has_perm("contacts.view_contact")
        else "",
        "quick_replies": ["YES", "STOP", "HELP", "START"],
    }
    return TemplateResponse(request, "devphone/phone.html", context)


@devphone_view
@require_GET
def phone_thread_json(request):
    try:
        number = number_clean(request.GET.get("number", "").strip())
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    items = phone_thread(number=number)
    return JsonResponse({
        "number": number,
        "messages": [
            {
                "key": item.key, "direction": item.direction, "body": item.body, "at": item.at.isoformat(),
                "kind": item.kind, "status": item.status, "label": item.label,
                "html": render_to_string("devphone/_item.html", {"item": item}),
            }
            for item in items
        ],
    })  # fmt: skip


@devphone_view
@require_POST
def phone_reply(request):
    data = request.POST.copy()
    if data.get("quick"):  # a quick-reply button: its word is the whole text
        data["body"] = data["quick"]
    form = ReplyForm(data)
    if not form.is_valid():
        problem = " ".join(message for errors in form.errors.values() for message in errors)
        return _reply_answer(request, data.get("number", ""), status=400, problem=problem)
    number, body = form.cleaned_data["number"], form.cleaned_data["body"]
    outcome = phone_reply_send(number=number, body=body)
    if outcome.delivered:
        return _reply_answer(request, number, status=200, problem="", sent=body)
    return _reply_answer(request, number, status=502, problem=outcome.problem)


def _reply_answer(request, number: str, *, status: int, problem: str, sent: str = ""):
    if _wants_json(request):
        return JsonResponse({"ok": not problem, "error": problem, "sent": sent}, status=status)
    if problem:
        messages.error(request, problem)
    return HttpResponseRedirect(_page_url(number))
