"""The Twilio backend: the one module that talks to Twilio's REST API.

Every REST call goes to `TWILIO_API_BASE_URL` (tests point it at a local
fake) through one pooled HTTP session, with a timeout. Twilio's errors are
classified here, once, into `ErrorClass`; everything else sees `SendError`.
"""

import os
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from .base import BaseBackend, ErrorClass, OutgoingSMS, ReceivedSMS, SendError, SendResult


def twilio_error_class(code: int | str | None, http_status: int | None = None) -> ErrorClass:
    """What a Twilio error code (or, without one, an HTTP status) means for us."""
    try:
        code = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        code = None
    if code in settings.TWILIO_OPT_OUT_ERROR_CODES:
        return ErrorClass.OPTED_OUT
    if code in settings.TWILIO_UNDELIVERABLE_ERROR_CODES:
        return ErrorClass.UNDELIVERABLE
    if code in settings.TWILIO_TRANSIENT_ERROR_CODES:
        return ErrorClass.TRANSIENT
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


class RoutedHttpClient(TwilioHttpClient):
    """Sends every request, whatever Twilio host the SDK built, to one base URL."""

    def __init__(self, *, base_url: str, timeout: float, pool_size: int):
        super().__init__(pool_connections=True, timeout=timeout)
        # Our own bounded retries live in the send path; the adapter must not retry a create.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.base = urlsplit(base_url.rstrip("/"))
        # requests reads proxy and CA settings from the environment on every call (a tenth of a sending
        # worker's CPU); we talk to one host, so read them once.
        self.session.proxies = requests.utils.get_environ_proxies(base_url)
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.session.trust_env = False

    def route(self, url: str) -> str:
        parts = urlsplit(url)
        return urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path, parts.query, ""))

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.route(url), *args, **kwargs)

    # The SDK logs every request and its headers at INFO: noise and cost at 1,000 msg/s.
    def log_request(self, kwargs):
        pass

    def log_response(self, status_code, response):
        pass


def _network_error(error: requests.RequestException) -> SendError:
    # A failed connect means Twilio never saw the request; after that, it may have accepted it.
    reason = getattr(error.args[0], "reason", None) if error.args else None
    never_reached = isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
    code = "timeout" if isinstance(error, requests.Timeout) else "network"
    return SendError(
        f"Twilio did not answer: {error.__class__.__name__}",
        error_class=ErrorClass.TRANSIENT,
        code=code,
        maybe_accepted=not never_reached,
    )


def _rest_error(error: TwilioRestException) -> SendError:
    return SendError(
        error.msg or f"HTTP {error.status}",
        error_class=twilio_error_class(error.code, error.status),
        code=str(error.code or error.status),
        http_status=error.status,
        # Twilio may have created a message it answered with a 5xx: its docs warn that retrying such a
        # create can text the person twice (https://www.twilio.com/docs/errors/20500).
        maybe_accepted=error.status is not None and error.status >= 500,
    )


class TwilioBackend(BaseBackend):
    def __init__(self):
        http_client = RoutedHttpClient(
            base_url=settings.TWILIO_API_BASE_URL,
            timeout=settings.TWILIO_TIMEOUT_SECONDS,
            pool_size=settings.TWILIO_HTTP_POOL_SIZE,
        )
        # environment={}: TWILIO_EDGE / TWILIO_REGION in the process environment would rewrite hosts.
        self.client = Client(
            username=settings.TWILIO_ACCOUNT_SID,
            password=settings.TWILIO_AUTH_TOKEN,
            account_sid=settings.TWILIO_ACCOUNT_SID,
            http_client=http_client,
            environment={},
        )
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            self.sender = {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        else:
            self.sender = {"from_": settings.TWILIO_FROM_NUMBER}

    @property
    def messages(self):
        return self.client.api.v2010.account.messages

    def send(self, sms: OutgoingSMS) -> SendResult:
        try:
            message = self.messages.create(
                to=sms.to, body=sms.body, status_callback=sms.status_callback or values.unset, **self.sender
            )
        except TwilioRestException as error:
            raise _rest_error(error) from error
        except requests.RequestException as error:
            raise _network_error(error) from error
        return SendResult(sid=message.sid, status=message.status, segments=_int(message.num_segments))

    def find_sent(self, to: str, since: datetime) -> list[SendResult]:
        # No DateSent filter: a message Twilio accepted but has not sent yet has no DateSent,
        # and that is exactly the one we look for. Newest come first, so a small limit suffices.
        found = _listing(lambda: self.messages.list(to=to, page_size=50, limit=200))
        return [
            SendResult(
                sid=m.sid,
                status=m.status,
                segments=_int(m.num_segments),
                to=m.to,
                body=m.body,
                created_at=m.date_created,
            )
            for m in found
            if m.date_created is not None and m.date_created >= since and m.direction != "inbound"
        ]

    def find_received(self, since: datetime) -> list[ReceivedSMS]:
        # Filtered by our numbers when we know them (a messaging service's pool may be unlisted: then all
        # messages, keeping the inbound ones). DateSent> compares whole days, hence the second filter.
        from messaging.selectors import our_numbers

        numbers = sorted(our_numbers()) or [None]
        found = []
        for number in numbers:
            filters = {"date_sent_after": since, "page_size": 200, "limit": settings.INBOUND_BACKSTOP_MAX_MESSAGES}
            if number:
                filters["to"] = number
            found += _listing(lambda filters=filters: self.messages.list(**filters))
        received = [(m, m.date_sent or m.date_created) for m in found if m.direction == "inbound"]
        return [
            ReceivedSMS(sid=m.sid, from_=m.from_, to=m.to, body=m.body or "", received_at=at)
            for m, at in received
            if at is not None and at >= since
        ]


def _listing(list_call):
    """Run a list call of the SDK, its errors as SendError."""
    try:
        return list_call()
    except TwilioRestException as error:
        raise _rest_error(error) from error
    except requests.RequestException as error:
        raise _network_error(error) from error
    except TwilioException as error:
        raise SendError(str(error), error_class=ErrorClass.TRANSIENT, code="list") from error


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
