"""An open-loop load of signed inbound webhooks: a steady rate for a fixed time, bounded in count and time.

Each request is due at `start + i / rate` whatever the earlier ones took (a slow
server doesn't slow the load down), is signed exactly as Twilio signs it, and is
recorded with when it was due, when it went out and when its answer came back,
so the test can tell which texts went out after an answered STOP.

    results = inbound_load(fake, url, texts, rate=20, seconds=3)
    latency_summary(results)   # {"sent": 60, "rate": 20.0, "p50_ms": …, "p95_ms": …, "p99_ms": …}
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from testing.fake_twilio import API_VERSION


@dataclass(frozen=True)
class InboundText:
    from_: str
    body: str
    sid: str
    kind: str  # what the test expects of it: "stop", "help", "chatter"


@dataclass
class Answered:
    text: InboundText
    due: float
    sent: float = 0.0
    answered: float = 0.0
    status: int | None = None
    error: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.sent) * 1000


def inbound_load(fake, url: str, texts: list[InboundText], *, rate: float, threads: int = 32) -> list[Answered]:
    """Post `texts` to the webhook at `url`, `rate` a second, and wait for every answer (at most 30 s each)."""
    local = threading.local()
    start = time.monotonic() + 0.2
    results = [Answered(text, start + n / rate) for n, text in enumerate(texts)]

    def post(result: Answered) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        time.sleep(max(0.0, result.due - time.monotonic()))  # open loop: on schedule, not after the last answer
        text = result.text
        fake.receive(text.from_, text.body, sid=text.sid)  # the provider's own record of the text
        params = {
            "AccountSid": fake.account_sid, "ApiVersion": API_VERSION, "Body": text.body, "From": text.from_,
            "FromCountry": "US", "MessageSid": text.sid, "NumMedia": "0", "NumSegments": "1",
            "SmsMessageSid": text.sid, "SmsSid": text.sid, "SmsStatus": "received", "To": fake.from_number,
            "ToCountry": "US",
        }  # fmt: skip
        headers = {"X-Twilio-Signature": fake.sign(url, params)}
        result.sent = time.time()
        try:
            response = session.post(url, data=params, headers=headers, timeout=30)
            result.status = response.status_code
        except requests.RequestException as error:
            result.error = repr(error)
        result.answered = time.time()

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load") as pool:
        list(pool.map(post, results))
    return results


def latency_summary(results: list[Answered]) -> dict:
    answered = sorted(r.latency_ms for r in results if r.status is not None)
    span = max(r.sent for r in results) - min(r.sent for r in results) if len(results) > 1 else 0.0

    def percentile(p: float) -> float:
        return round(answered[min(len(answered) - 1, int(p / 100 * len(answered)))], 1) if answered else 0.0

    return {
        "sent": len(results),
        "rate": round((len(results) - 1) / span, 1) if span else 0.0,
        "p50_ms": percentile(50),
        "p95_ms": percentile(95),
        "p99_ms": percentile(99),
        "max_ms": round(answered[-1], 1) if answered else 0.0,
        "mean_ms": round(statistics.fmean(answered), 1) if answered else 0.0,
    }
