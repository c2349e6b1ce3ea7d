"""Twilio's webhooks: inbound texts and status callbacks. Thin: verify, check, call a service, answer.

A failed inbound webhook is a lost text (Twilio does not retry it): every answer
here is a 200, a 403 for a bad signature, or a 400 for fields Twilio would never
send. When the database is away, the text is kept in the spool and answered 200.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from redis import RedisError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from .inbound import inbound_params_check, inbound_params_clean, inbound_receive
from .outbox import outbox_status_apply, status_callback_base_url
from .spool import (
    inbound_spool_apply_files,
    inbound_spool_has_files,
    inbound_spool_keep,
    inbound_spool_waiting,
    status_spool_keep,
)

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


def _twiml(texts: list[str]) -> HttpResponse:
    twiml = MessagingResponse()
    for text in texts:
        twiml.message(text)
    return HttpResponse(str(twiml), content_type="text/xml; charset=utf-8")


@csrf_exempt  # Twilio can't send a CSRF token; the signature authenticates the request instead
@require_POST
def inbound_webhook(request):
    if not twilio_signature_valid(request, settings.PUBLIC_BASE_URL):
        return _forbidden(request)
    params = inbound_params_clean(request.POST)
    try:
        inbound_params_check(params)
    except ValidationError as error:
        log.warning("rejected inbound webhook: %s", "; ".join(error.messages))
        return HttpResponseBadRequest("; ".join(error.messages), content_type="text/plain")
    received_at = timezone.now()
    try:
        outcome = inbound_receive(params=params, received_at=received_at)
    except DatabaseError:
        log.exception("inbound %s: the database is unavailable; keeping it in the spool", params["MessageSid"])
        try:
            inbound_spool_keep(params=params, received_at=received_at)
        except OSError:
            log.exception("inbound %s: could not be kept anywhere", params["MessageSid"])
            return HttpResponse("temporarily unavailable", status=503, content_type="text/plain")
        return _twiml([])
    _spool_nudge()
    return _twiml(outcome.replies)


def _spool_nudge() -> None:
    """The database answers again: have anything kept during an outage applied now."""
    from .tasks import inbound_spool_apply_task

    try:
        if inbound_spool_waiting():
            inbound_spool_apply_task.delay()
    except Exception:  # Redis away: beat and the gate apply the spool once it is back
        log.warning("inbound spool: could not look at Redis", exc_info=True)
    if inbound_spool_has_files():
        inbound_spool_apply_files()


@csrf_exempt
@require_POST
def status_callback(request):
    if not twilio_signature_valid(request, status_callback_base_url()):
        return _forbidden(request)
    params = inbound_params_clean(request.POST)
    receipt = {
        "sid": params.get("MessageSid", ""),
        "status": params.get("MessageStatus") or params.get("SmsStatus", ""),
        "error_code": params.get("ErrorCode", ""),
    }
    try:
        outbox_status_apply(**receipt)
    except DatabaseError:
        # Twilio retries a failed callback only where the URL asks it to (by default, connections that
        # fail, not 5xx answers): keep it and answer 200, so the receipt is applied once the database is back.
        log.exception("status callback for %s: the database is unavailable; keeping it", receipt["sid"])
        try:
            status_spool_keep(**receipt)
        except RedisError:
            log.exception("status callback for %s: could not be kept anywhere", receipt["sid"])
            return HttpResponse("temporarily unavailable", status=503, content_type="text/plain")
    # 200 even for SIDs we don't know: a 4xx would only make Twilio retry.
    return HttpResponse(status=200)
