"""A stateful fake of the Twilio Messages API: a real HTTP server on 127.0.0.1 for tests.

It answers `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way
Twilio does (Basic auth, form fields, 201 with a Twilio-shaped body, Twilio
error bodies), lists and fetches what it accepted, records every request, and
can be told to misbehave: answer an HTTP status or a Twilio error code, answer
slowly, accept a message and drop the connection before answering (the
"provider has it but we never heard back" case), or accept a message and hold
the answer until the test releases it, so a test can act (kill a worker, cut
a connection) at a moment it knows is mid-request instead of hoping for one. It also posts signed inbound
messages and status callbacks to the app, signed exactly as Twilio signs them.

    with FakeTwilio() as fake:
        fake.fail_next(code=21610, to="+14155550101")
        ...

Tests get it from the `fake_twilio` fixture, which also points the app's
Twilio settings at it (`SMS_BACKEND=twilio`). Worker subprocesses get the same
wiring from `fake.env()`.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"

# Twilio's own wording for the errors the fake can produce (https://www.twilio.com/docs/errors/<code>).
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21635: "'To' number cannot be a landline",
    30003: "Unreachable destination handset",
    30006: "Landline or unreachable carrier",
    30008: "Unknown error",
}
# The HTTP status Twilio answers with for a code, when it is not 400.
ERROR_HTTP_STATUS = {20003: 401, 20404: 404, 20429: 429, 20500: 500}
HTTP_STATUS_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 502: 20500, 503: 20500}


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=False).replace("-0000", "+0000")


def error_body(code: int, status: int | None = None, message: str | None = None) -> dict:
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status or ERROR_HTTP_STATUS.get(code, 400),
    }


def segments_of(body: str) -> int:
    """GSM-7 vs UCS-2 segment count, close enough for a fake."""
    from messaging.segments import segment_count

    return segment_count(body)


def message_resource(account_sid: str, form: dict) -> dict:
    """The JSON Twilio answers a successful message create with."""
    now = datetime.now(UTC)
    sid = new_sid("SM")
    body, to = form.get("Body", ""), form.get("To", "")
    service = form.get("MessagingServiceSid") or None
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": _rfc2822(now),
        "date_sent": None,
        "date_updated": _rfc2822(now),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From") or None,
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": str(segments_of(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if service else "queued",
        "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json",
    }


@dataclass
class Misbehaviour:
    """What the fake does instead of a clean 201, for `remaining` create requests (None: until cleared)."""

    remaining: int | None = 1
    to: str | None = None  # only requests to this number
    status: int | None = None  # answer this HTTP status with a Twilio error body
    code: int | None = None  # answer this Twilio error code
    delay: float = 0.0  # seconds to wait before answering (the message is accepted first)
    drop: bool = False  # accept the message, then close the connection without answering
    hold: Hold | None = None  # accept the message, then answer only once the test releases the hold
    accept: bool = False  # with status/code: store the message first, as Twilio may before answering a 5xx
    after: int = 0  # let this many matching creates through untouched first

    def matches(self, to: str) -> bool:
        return self.to is None or self.to == to


class Hold:
    """Create requests the fake has accepted but not yet answered, until `release()`.

    Each held request has already stored its message (the provider has it), so a
    worker killed while one is held leaves exactly the "accepted, answer never
    stored" state a reconcile must settle.
    """

    def __init__(self):
        self._released = threading.Event()
        self._changed = threading.Condition()
        self._held: list[str] = []  # SIDs of the messages accepted and held, in arrival order

    @property
    def held(self) -> list[str]:
        with self._changed:
            return list(self._held)

    def wait_held(self, count: int = 1, *, timeout: float = 30.0) -> list[str]:
        """Block until at least `count` requests are held; the SIDs held so far."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._held) >= count, timeout=timeout):
                held = len(self._held)
                raise AssertionError(f"timed out after {timeout}s waiting for {count} held request(s); {held} held")
            return list(self._held)

    def release(self) -> None:
        self._released.set()

    def _hold(self, sid: str, limit: float) -> None:
        with self._changed:
            self._held.append(sid)
            self._changed.notify_all()
        # Bounded, so a test that forgets to release can't leave server threads behind for good.
        self._released.wait(limit)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict
    form: dict  # field -> value (Twilio's create takes single values)
    form_lists: dict  # field -> [values], for fields sent more than once
    authorized: bool
    answered: int | None  # HTTP status answered; None when the connection was dropped
    at: float = field(default_factory=time.time)


class FakeTwilio:
    def __init__(self, *, account_sid: str | None = None, auth_token: str | None = None):
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_number = "+15005550006"
        self._lock = threading.Lock()
        self._messages: dict[str, dict] = {}  # sid -> Twilio message resource, in creation order
        self._received: dict[str, dict] = {}  # sid -> inbound message resource (what people texted us)
        self._arrival: dict[str, int] = {}  # sid -> order of arrival, outbound and inbound alike
        self._requests: list[RecordedRequest] = []
        self._misbehaviours: list[Misbehaviour] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._http = requests.Session()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> FakeTwilio:
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.clear_failures()  # releases held answers, so their threads end
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._http.close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point a separate process (a Celery worker) at this fake."""
        return {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE_URL": self.base_url,
            "TWILIO_FROM_NUMBER": self.from_number,
            "TWILIO_MESSAGING_SERVICE_SID": "",
        }

    # -- telling it to misbehave -----------------------------------------------

    def fail_next(
        self,
        count: int | None = 1,
        *,
        status: int | None = None,
        code: int | None = None,
        to: str | None = None,
        delay: float = 0.0,
        accept: bool = False,
    ) -> None:
        """The next `count` creates (to `to`, if given; None = every one until `clear_failures`) fail.

        Give an HTTP `status` (429, 500…), a Twilio error `code` (21610, 21211, 30006…), or both.
        `accept=True` stores the message before answering the error: Twilio warns that a create it
        answered with a 5xx may still have been sent.
        """
        if status is None and code is None:
            raise ValueError("say which failure: status=… or code=…")
        self._add(Misbehaviour(remaining=count, to=to, status=status, code=code, delay=delay, accept=accept))

    def slow_next(self, count: int | None = 1, *, seconds: float, to: str | None = None) -> None:
        """Accept the next `count` creates but answer only after `seconds` (client timeouts fire first)."""
        self._add(Misbehaviour(remaining=count, to=to, delay=seconds))

    def drop_next(self, count: int | None = 1, *, to: str | None = None) -> None:
        """Accept the next `count` creates, then close the connection without an answer."""
        self._add(Misbehaviour(remaining=count, to=to, drop=True))

    def hold_next(self, count: int | None = None, *, to: str | None = None, after: int = 0) -> Hold:
        """Accept the next `count` creates (None: every one), after letting `after` through, and hold
        each answer until the returned `Hold` is released. `clear_failures` and `stop` release it too."""
        hold = Hold()
        self._add(Misbehaviour(remaining=count, to=to, hold=hold, after=after))
        return hold

    def clear_failures(self) -> None:
        with self._lock:
            cleared, self._misbehaviours = self._misbehaviours, []
        for rule in cleared:
            if rule.hold:
                rule.hold.release()

    def _add(self, rule: Misbehaviour) -> None:
        with self._lock:
            self._misbehaviours.append(rule)

    def _take_misbehaviour(self, to: str) -> Misbehaviour | None:
        with self._lock:
            for rule in self._misbehaviours:
                if rule.matches(to):
                    if rule.after > 0:
                        rule.after -= 1
                        continue
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._misbehaviours.remove(rule)
                    return rule
        return None

    # -- what it received ----------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def create_requests(self) -> list[RecordedRequest]:
        """Every `Messages.json` create it received, accepted or not."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")]

    def messages(self, to: str | None = None) -> list[dict]:
        """Messages it accepted (Twilio resources), oldest first."""
        with self._lock:
            found = list(self._messages.values())
        return [m for m in found if to is None or m["to"] == to]

    def message(self, sid: str) -> dict:
        with self._lock:
            return dict(self._messages[sid])

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        with self._lock:
            resource = self._messages[sid]
            resource["status"] = status
            resource["error_code"] = error_code
            resource["error_message"] = ERROR_MESSAGES.get(error_code) if error_code else None
            now = datetime.now(UTC)
            resource["date_updated"] = _rfc2822(now)
            if status in ("sent", "delivered", "undelivered", "failed") and not resource["date_sent"]:
                resource["date_sent"] = _rfc2822(now)

    # -- posting to the app, signed like Twilio ----------------------------------------

    def sign(self, url: str, params: dict) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def post_status_callback(
        self, url: str, sid: str, status: str, error_code: int | None = None, *, client=None, **extra
    ):
        """POST a status callback for `sid` to the app's `url` (its public URL), signed.

        With `client` (a Django test client) the request goes through it instead
        of the network; the signature is computed over `url` either way.
        """
        with self._lock:
            known = dict(self._messages.get(sid) or {})
        if known:
            self.set_status(sid, status, error_code)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": known.get("from") or self.from_number,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": known.get("to") or extra.pop("To", "+14155550100"),
        }
        if known.get("messaging_service_sid"):
            params["MessagingServiceSid"] = known["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        params.update({k: str(v) for k, v in extra.items()})
        return self._post(url, params, client)

    def receive(self, from_: str, body: str, *, sid: str | None = None, to: str | None = None) -> str:
        """Record a text a person sent us, as Twilio's API lists it, without calling any webhook.

        What Twilio holds when a webhook never reached the app; `post_inbound` records it too.
        """
        sid = sid or new_sid("SM")
        now = _rfc2822(datetime.now(UTC))
        resource = {
            **message_resource(self.account_sid, {"To": to or self.from_number, "Body": body}),
            "sid": sid, "from": from_, "direction": "inbound", "status": "received", "date_sent": now,
        }  # fmt: skip
        with self._lock:
            self._received[sid] = resource
            self._arrival[sid] = len(self._arrival)
        return sid

    def post_inbound(self, url: str, from_: str, body: str, *, sid: str | None = None, client=None, **extra):
        """POST an inbound text from `from_` to the app's webhook `url`, signed. Extra fields override."""
        sid = self.receive(from_, body, sid=sid, to=extra.get("To"))
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "FromCountry": "US",
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": self.from_number,
            "ToCountry": "US",
        }
        params.update({k: str(v) for k, v in extra.items()})
        return self._post(url, params, client)

    def _post(self, url: str, params: dict, client):
        signature = self.sign(url, params)
        if client is None:
            return self._http.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": signature},
        )

    # -- request handling (called from server threads) -------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _create(self, form: dict) -> tuple[int, dict, Misbehaviour | None]:
        to = form.get("To", "")
        if not to:
            return 400, error_body(21604), None
        if not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16):
            return 400, error_body(21211, message=f"The 'To' number {to} is not a valid phone number."), None
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 400, error_body(21603), None
        body = form.get("Body", "")
        if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
            return 400, error_body(21602), None
        if len(body) > 1600:
            return 400, error_body(21617), None
        rule = self._take_misbehaviour(to)
        if rule and (rule.status or rule.code) and not rule.accept:
            return (*self._error(rule), rule)
        resource = message_resource(self.account_sid, form)
        sid = resource["sid"]
        with self._lock:
            self._messages[sid] = resource
            self._arrival[sid] = len(self._arrival)
        if rule and (rule.status or rule.code):
            return (*self._error(rule), rule)
        return 201, dict(resource), rule

    def _error(self, rule: Misbehaviour) -> tuple[int, dict]:
        code = rule.code or HTTP_STATUS_CODES.get(rule.status, 20500)
        status = rule.status or ERROR_HTTP_STATUS.get(code, 400)
        return status, error_body(code, status)

    def _list(self, query: dict) -> dict:
        to = query.get("To")
        page_size = max(1, min(1000, int(query.get("PageSize", 50))))
        page = int(query.get("Page", 0))
        sent_after = query.get("DateSent>")
        with self._lock:
            both = [*self._received.values(), *self._messages.values()]
            found = sorted((m for m in both if to is None or m["to"] == to), key=lambda m: self._arrival[m["sid"]])
        if sent_after:
            # Twilio compares dates only; like Twilio, messages not yet sent have no DateSent.
            day = sent_after[:10]
            found = [m for m in found if m["date_sent"] and _iso_day(m["date_sent"]) >= day]
        found.reverse()  # newest first, like Twilio
        chunk = found[page * page_size : (page + 1) * page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(n: int) -> str:
            return base + "?" + urlencode({**filters, "PageSize": page_size, "Page": n})

        has_next = (page + 1) * page_size < len(found)
        return {
            "messages": chunk,
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) + f"&PageToken=PA{page + 1}" if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": page * page_size,
            "uri": page_uri(page),
        }


def _iso_day(rfc2822: str) -> str:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(rfc2822).astimezone(UTC).date().isoformat()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that gave up (timeout) or a connection we dropped on purpose is not news.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"  # keep-alive: the backend's pooled session reuses connections
    # Headers and body go out in separate writes; with Nagle on, each answer would wait ~40 ms for an ACK.
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections close on their own

    def log_message(self, format, *args):  # the test output is no place for access logs
        pass

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return secrets.compare_digest(user, self.fake.account_sid) and secrets.compare_digest(
            password, self.fake.auth_token
        )

    def _answer(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        # Headers and body in one write: one syscall and one packet per answer.
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def _route(self) -> tuple[str, str | None]:
        """("create"|"list"|"fetch"|"", sid) for this path under our account."""
        path = urlsplit(self.path).path
        prefix = f"/{API_VERSION}/Accounts/{self.fake.account_sid}/Messages"
        if path == prefix + ".json":
            return ("create" if self.command == "POST" else "list"), None
        if path.startswith(prefix + "/") and path.endswith(".json"):
            return "fetch", path[len(prefix) + 1 : -5]
        return "", None

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        form_lists = parse_qs(raw, keep_blank_values=True)
        form = {k: v[-1] for k, v in form_lists.items()}
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        authorized = self._authorized()
        record = RecordedRequest(self.command, parts.path, query, form, form_lists, authorized, None)
        self.fake._record(record)
        if not authorized:
            record.answered = 401
            self._answer(401, error_body(20003, 401))
            return
        route, sid = self._route()
        if route == "create" and self.command == "POST":
            status, payload, rule = self.fake._create(form)
            if rule and rule.delay:
                time.sleep(rule.delay)
            if rule and rule.hold and status == 201:
                rule.hold._hold(payload["sid"], limit=120)
            if rule and rule.drop:
                self.close_connection = True
                self.connection.shutdown(2)  # SHUT_RDWR: the client sees the connection die
                return
            record.answered = status
            self._answer(status, payload)
        elif route == "list" and self.command == "GET":
            record.answered = 200
            self._answer(200, self.fake._list(query))
        elif route == "fetch" and self.command == "GET":
            try:
                payload = self.fake.message(sid)
            except KeyError:
                record.answered = 404
                self._answer(404, error_body(20404, 404))
                return
            record.answered = 200
            self._answer(200, payload)
        else:
            record.answered = 404
            self._answer(404, error_body(20404, 404))

    do_GET = _handle
    do_POST = _handle



@pytest.fixture
def fake_twilio(settings):
    """A running fake, with the app's Twilio settings pointed at it and `SMS_BACKEND=twilio`."""
    from messaging.backends import reset_backends

    with FakeTwilio() as fake:
        for name, value in fake.env().items():
            setattr(settings, name, value)
        reset_backends()
        yield fake
        reset_backends()


def main() -> None:
    """`python -m testing.fake_twilio`: run the fake in its own process (its own GIL, for benchmarks).

    Prints one JSON line with the settings that point the app at it, then serves until killed.
    """
    import sys

    fake = FakeTwilio().start()
    print(json.dumps(fake.env()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
