"""Twilio's webhooks: inbound texts and status callbacks. Thin: verify, call a service, answer."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from .inbound import inbound_receive
from .services import message_status_apply, status_callback_base_url

log = logging.getLogger(__name__)


def twilio_signature_valid(request, base_url: str) -> bool:
    """Check `X-Twilio-Signature` over the URL Twilio called: the public one, not the one behind our proxy."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    url = base_url + request.get_full_path()
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, request.POST, signature)


def _forbidden(request):
    log.warning("rejected %s: missing or invalid X-Twilio-Signature", request.path)
    return HttpResponseForbidden("invalid signature", content_type="text/plain")


@csrf_exempt  # Twilio can't send a CSRF token; the signature authenticates the request instead
@require_POST
def inbound_webhook(request):
    if not twilio_signature_valid(request, settings.PUBLIC_BASE_URL):
        return _forbidden(request)
    try:
        outcome = inbound_receive(params=request.POST)
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages), content_type="text/plain")
    twiml = MessagingResponse()
    for text in outcome.replies:
        twiml.message(text)
    return HttpResponse(str(twiml), content_type="text/xml; charset=utf-8")


@csrf_exempt
@require_POST
def status_callback(request):
    if not twilio_signature_valid(request, status_callback_base_url()):
        return _forbidden(request)
    message_status_apply(
        sid=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus") or request.POST.get("SmsStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    # 200 even for SIDs we don't know: a 4xx would only make Twilio retry.
    return HttpResponse(status=200)
