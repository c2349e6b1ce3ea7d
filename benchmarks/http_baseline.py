"""The HTTP limit: a bare client loop posting message creates to the fake, no database, no Celery.

Same client library the Twilio SDK uses (requests with a pooled session), same
form fields, same number of concurrent senders as the workers under test.
"""

import multiprocessing
import time

import requests


def _loop(base_url: str, account_sid: str, token: str, seconds: float, result) -> None:
    session = requests.Session()
    session.auth = (account_sid, token)
    url = f"{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"
    form = {
        "To": "+14155550101",
        "From": "+15005550006",
        "Body": "Acme: Hi Ana, 20% off this weekend. Reply STOP to opt out",
        "StatusCallback": "http://127.0.0.1:9/sms/status/",
    }
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = session.post(url, data=form, timeout=10)
        response.raise_for_status()
        sent += 1
    result.put(sent)


def http_baseline(*, base_url: str, account_sid: str, token: str, concurrency: int, seconds: float) -> float:
    """Messages per second a bare loop achieves with `concurrency` processes."""
    result = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_loop, args=(base_url, account_sid, token, seconds, result))
        for _ in range(concurrency)
    ]
    started = time.monotonic()
    for p in procs:
        p.start()
    total = sum(result.get() for _ in procs)
    for p in procs:
        p.join()
    return total / (time.monotonic() - started)
