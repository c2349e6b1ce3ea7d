"""The development phone's one act: send a person's reply to `/sms/inbound/` exactly as Twilio would.

Nothing here writes to the database. The reply goes over HTTP to the real
webhook, with Twilio's fields and signature, so it takes the path production
takes: signature check, input checks, classification, consent change, reply.
"""

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import phonenumbers
import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.module_loading import import_string
from twilio.request_validator import RequestValidator

from contacts.phones import phone_facts
from messaging.backends import ALIASES
from messaging.segments import segment_count

API_VERSION = "2010-04-01"
# How long to wait for our own webhook: Twilio itself gives up after 15 s.
WEBHOOK_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class ReplyOutcome:
    status: int | None  # the webhook's HTTP status; None when it never answered
    problem: str = ""  # what went wrong, in words a developer can act on; "" when the webhook took the text

    @property
    def delivered(self) -> bool:
        return self.status == 200


def phone_refusal() -> str:
    """Why the phone can't post replies right now, or "" when it can."""
    if _sends_real_texts():
        return (
            "Texts go to real phones (SMS_BACKEND is the Twilio API), so the development phone is off: "
            "a reply typed here would record consent that no person gave."
        )
    if not settings.TWILIO_AUTH_TOKEN:
        return "TWILIO_AUTH_TOKEN is not set, so the webhook refuses every text; `make run` sets a development one."
    if not settings.TWILIO_FROM_NUMBER:
        return "TWILIO_FROM_NUMBER is not set: a reply needs the number it is sent to; `make run` sets one."
    return ""


def _sends_real_texts() -> bool:
    from messaging.backends.console import ConsoleBackend
    from messaging.backends.locmem import LocmemBackend
    from messaging.backends.twilio import TwilioBackend

    try:
        backend = import_string(ALIASES.get(settings.SMS_BACKEND, settings.SMS_BACKEND))
    except ImportError:  # the system check names it; here, assume the worst
        return True
    if not isinstance(backend, type):
        return True
    if issubclass(backend, ConsoleBackend | LocmemBackend):
        return False
    if issubclass(backend, TwilioBackend):  # the Twilio backend pointed at a local fake is not real
        host = (urlsplit(settings.TWILIO_API_BASE_URL).hostname or "").lower()
        return host == "twilio.com" or host.endswith(".twilio.com")
    return True  # a backend we don't know may well reach real phones


def inbound_params(*, from_number: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The form fields Twilio posts for an SMS from `from_number` (E.164) to our sender."""
    sid = sid or "SM" + secrets.token_hex(16)
    to = settings.TWILIO_FROM_NUMBER
    params = {
        "ToCountry": _country(to),
        "ToState": _state(to),
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": _state(from_number),
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": _country(from_number),
        "To": to,
        "ToZip": "",
        "NumSegments": str(segment_count(body)),
        "MessageSid": sid,
        "AccountSid": settings.TWILIO_ACCOUNT_SID,
        "From": from_number,
        "ApiVersion": API_VERSION,
    }
    if settings.TWILIO_MESSAGING_SERVICE_SID:  # Twilio names the service when the number belongs to one
        params["MessagingServiceSid"] = settings.TWILIO_MESSAGING_SERVICE_SID
    return params


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""


def _state(number: str) -> str:
    try:
        return phone_facts(number).region
    except ValidationError:  # a number we would never text: Twilio too sends an empty state when it knows none
        return ""


def inbound_url() -> str:
    """The public URL of the inbound webhook: what Twilio calls, and what the signature covers."""
    return settings.PUBLIC_BASE_URL + reverse("messaging:inbound")


def phone_reply_send(*, number: str, body: str) -> ReplyOutcome:
    """POST `body` from `number` (E.164) to the inbound webhook, signed with our auth token, as Twilio does."""
    refusal = phone_refusal()
    if refusal:
        return ReplyOutcome(status=None, problem=refusal)
    url = inbound_url()
    params = inbound_params(from_number=number, body=body)
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
    try:
        answer = requests.post(url, data=params, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        return ReplyOutcome(
            status=None,
            problem=f"Nothing answered at {url} ({error.__class__.__name__}): "
            "PUBLIC_BASE_URL must be the address this server listens on.",
        )
    if answer.status_code == 200:
        return ReplyOutcome(status=200)
    problem = f"The webhook at {url} answered {answer.status_code}: {answer.text[:200]}"
    if answer.status_code == 403:
        problem += (
            " (it checks the signature with TWILIO_AUTH_TOKEN over PUBLIC_BASE_URL: the server behind that address "
            "must run with the same values as this page)"
        )
    return ReplyOutcome(status=answer.status_code, problem=problem)
