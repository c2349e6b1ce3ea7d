"""The benchmark cases. Each measures the real pipeline and, where a ratio fits, a baseline side by side."""

import random
import statistics
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from django.db import connection
from django.utils import timezone
from twilio.request_validator import RequestValidator

from campaigns.dispatch import campaign_chains_ensure
from campaigns.materialize import campaign_audience_build
from campaigns.models import Campaign, CampaignStatus
from campaigns.services import campaign_pause, campaign_start
from contacts.models import ConsentEvent
from messaging.models import MessageStatus, OutboundMessage

from . import procs
from .http_baseline import http_baseline

BODY = "Hi {{ first_name|default:'there' }}, 20% off everything this weekend at Acme."


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def new_campaign(program_id: int, name: str, **fields) -> Campaign:
    return Campaign.objects.create(name=name, program_id=program_id, body=BODY, **fields)


def fake_stats(fake) -> dict:
    return requests.get(fake.extra["url"] + "/_stats", timeout=10).json()


# --- 1. Audience build ---------------------------------------------------------------------


HAND_WRITTEN_BUILD = """
INSERT INTO messaging_outboundmessage (kind, contact_id, program_id, campaign_id, "to", body, status, attempts,
                                       error_code, reason, created_at)
SELECT 'campaign', c.id, s.program_id, {campaign}, c.phone, '', 'pending', 0, '', '', now()
FROM contacts_contact c
JOIN contacts_subscription s ON s.contact_id = c.id AND s.program_id = {program} AND s.status = 'active'
WHERE c.undeliverable_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM contacts_suppressednumber x WHERE x.digest = c.phone_digest)
ON CONFLICT DO NOTHING
"""


def case_audience_build(*, program_id: int, database_url: str) -> dict:
    """Our batched INSERT … SELECT against the same rows written by one hand-written statement in psql."""
    ours = new_campaign(program_id, "bench: audience build", status=CampaignStatus.SENDING, started_at=timezone.now())
    started = time.perf_counter()
    campaign_audience_build(campaign_id=ours.pk)
    ours_seconds = time.perf_counter() - started
    rows = OutboundMessage.objects.filter(campaign=ours).count()

    baseline = new_campaign(program_id, "bench: psql baseline", status=CampaignStatus.CANCELLED)
    sql = HAND_WRITTEN_BUILD.format(campaign=baseline.pk, program=program_id)
    started = time.perf_counter()
    subprocess.run(["psql", database_url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
    psql_seconds = time.perf_counter() - started
    baseline_rows = OutboundMessage.objects.filter(campaign=baseline).count()
    with connection.cursor() as cursor:  # the baseline's rows would only get in the way of the next cases
        cursor.execute("DELETE FROM messaging_outboundmessage WHERE campaign_id = %s", [baseline.pk])
        cursor.execute("VACUUM ANALYZE messaging_outboundmessage")
    return {
        "campaign_id": ours.pk,
        "rows": rows,
        "baseline_rows": baseline_rows,
        "ours_seconds": round(ours_seconds, 2),
        "psql_seconds": round(psql_seconds, 2),
        "ratio": round(ours_seconds / psql_seconds, 2),
        "target_ratio_max": 1.5,
    }


# --- 2. Dispatch -----------------------------------------------------------------------------


def _rate(fake, seconds: float) -> float:
    before, t0 = fake_stats(fake)["created"], time.monotonic()
    time.sleep(seconds)
    after, t1 = fake_stats(fake)["created"], time.monotonic()
    return (after - before) / (t1 - t0)


def case_dispatch(*, campaign_id: int, env_for, window: float = 20, warmup: float = 5) -> dict:
    """Messages per second from claim to the fake's 201 with the SID stored, with 1 then 2 worker processes."""
    fake = procs.start_fake(env_for(), callbacks=False)
    env = env_for(fake_url=fake.extra["url"])
    workers = []
    try:
        baseline = {
            str(n): round(http_baseline(base_url=fake.extra["url"], account_sid=procs.ACCOUNT_SID,
                                        token=procs.AUTH_TOKEN, concurrency=n, seconds=window / 2))
            for n in (1, 2)
        }  # fmt: skip
        requests.post(fake.extra["url"] + "/_reset", timeout=10)
        workers.append(procs.start_worker(env, "dispatch-w1"))
        campaign_chains_ensure(campaign_id=campaign_id)
        time.sleep(warmup)
        one = _rate(fake, window)
        workers.append(procs.start_worker(env, "dispatch-w2"))
        time.sleep(warmup)
        two = _rate(fake, window)
        campaign = Campaign.objects.get(pk=campaign_id)
        if campaign.status == CampaignStatus.SENDING:  # a small data set may already be done
            campaign_pause(campaign=campaign, actor=None)
        time.sleep(2)
        created = fake_stats(fake)["created"]
        stored = OutboundMessage.objects.filter(campaign_id=campaign_id, sid__isnull=False).count()
    finally:
        for proc in [*workers, fake]:
            proc.stop()
    return {
        "messages_per_second": {"1": round(one), "2": round(two)},
        "http_baseline_per_second": baseline,
        "ratio_2_workers": round(two / baseline["2"], 2) if baseline["2"] else None,
        "sids_stored": stored,
        "fake_created": created,
        "target_messages_per_second_min": 1000,
        "target_ratio_min": 0.5,
    }


# --- 4. Opt-out under load -----------------------------------------------------------------


def stop_request(url: str, phone: str, validator: RequestValidator) -> tuple[dict, dict]:
    """The form fields and signature header of one STOP from `phone`, as Twilio posts it to `url`."""
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": procs.ACCOUNT_SID, "From": phone,
              "To": procs.FROM_NUMBER, "Body": "STOP", "NumMedia": "0"}  # fmt: skip
    return params, {"X-Twilio-Signature": validator.compute_signature(url, params)}


def _stop_sender(web_url: str, phones: list[str], rate: float, seconds: float) -> list[tuple[str, float, float, int]]:
    """Signed STOP webhooks at a fixed rate (open loop). Returns (phone, answered_at, latency, status)."""
    url = web_url + "/sms/inbound/"
    validator = RequestValidator(procs.AUTH_TOKEN)
    results, lock = [], threading.Lock()
    local = threading.local()

    def post(phone: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        params, headers = stop_request(url, phone, validator)
        sent = time.perf_counter()
        response = session.post(url, data=params, headers=headers, timeout=30)
        answered = time.time()
        with lock:
            results.append((phone, answered, time.perf_counter() - sent, response.status_code))

    total = int(rate * seconds)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(min(total, len(phones))):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(post, phones[i])
    return results


def case_optout_under_load(*, campaign_id: int, web_url: str, fake, rate: float = 200, seconds: float = 60) -> dict:
    """STOPs while the campaign dispatches: latency, and messages the fake got for a number after its STOP."""
    pending = list(
        OutboundMessage.objects.filter(campaign_id=campaign_id, status=MessageStatus.PENDING).values_list(
            "to", flat=True
        )[: int(rate * seconds) * 3]
    )
    random.Random(3).shuffle(pending)
    results = _stop_sender(web_url, pending, rate, seconds)
    stopped_at = {phone: answered for phone, answered, _, status in results if status == 200}
    log = requests.get(fake.extra["url"] + "/_log", timeout=60).json()
    # The STOPs' ledger events are sealed into the hash chain by beat, after their answers went out.
    load_over = time.monotonic()
    _wait(lambda: not ConsentEvent.objects.filter(position__isnull=True).exists(), timeout=300, every=0.25)
    sealed_within = time.monotonic() - load_over
    late = [(to, t) for t, to, _ in log if to in stopped_at and t > stopped_at[to]]
    latencies = [latency * 1000 for *_, latency, status in results if status == 200]
    return {
        "requests": len(results),
        "ok": len(latencies),
        "non_200": len(results) - len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "sent_after_stop": len(late),
        "ledger_sealed_within_s": round(sealed_within, 1),
        # Each late text with when the fake accepted it and when its STOP was answered, to investigate.
        "late_examples": [{"to": to, "fake_at": t, "stop_answered_at": stopped_at[to]} for to, t in late[:10]],
        "target_p99_ms_max": 50,
        "target_sent_after_stop": 0,
    }


# --- 6. End to end (and 3. memory) ----------------------------------------------------------


def case_end_to_end(*, program_id: int, env_for, with_optout: bool, timeout: float = 4 * 3600) -> dict:
    """Start a campaign the way staff do and wait for every message's delivery receipt."""
    fake = procs.start_fake(env_for(), callbacks=True)
    web_port, receipts_port = procs.free_port(), procs.free_port()
    env = env_for(fake_url=fake.extra["url"], web_url=f"http://127.0.0.1:{web_port}",
                  STATUS_CALLBACK_BASE_URL=f"http://127.0.0.1:{receipts_port}")  # fmt: skip
    started_procs = [fake]
    optout = None
    try:
        # Opt-outs (and the admin) on one pool; delivery receipts and sending are bulk work at lower priority.
        # Processes, not threads, for the opt-out path: a thread holding a contact's row locks would wait for the GIL.
        web = procs.start_web(env, port=web_port, workers=4, threads=1)
        receipts = procs.start_web(env, port=receipts_port, name="receipts", niceness=procs.BULK_NICENESS)
        started_procs += [web, receipts]
        workers = [procs.start_worker(env, f"e2e-w{n}", niceness=procs.BULK_NICENESS) for n in (1, 2)]
        beat = procs.start_beat(env)
        started_procs += [*workers, beat]
        campaign = new_campaign(program_id, "bench: end to end")
        t0 = time.monotonic()
        campaign_start(campaign=campaign, actor=None)
        if with_optout:
            _wait(lambda: Campaign.objects.filter(pk=campaign.pk, audience_built_at__isnull=False).exists(), timeout)
            _wait(lambda: fake_stats(fake)["created"] > 1000, timeout)
            optout = case_optout_under_load(campaign_id=campaign.pk, web_url=web.extra["url"], fake=fake)
        _wait(lambda: Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.COMPLETED, timeout)
        sent_done = time.monotonic()

        def callbacks_settled():
            s = fake_stats(fake)
            return s["callbacks_done"] + s["callbacks_failed"] >= s["created"] and s["callbacks_queued"] == 0

        _wait(callbacks_settled, timeout)
        t_end = time.monotonic()
        campaign.refresh_from_db()
        stats = fake_stats(fake)
        statuses = _status_counts(campaign.pk)
        memory = {p.name: p.peak_rss_mb() for p in [*workers, beat]}
    finally:
        for proc in reversed(started_procs):
            proc.stop()
    build_seconds = (campaign.audience_built_at - campaign.started_at).total_seconds()
    return {
        "recipients": campaign.audience_size,
        "wall_seconds": round(t_end - t0, 1),
        "build_seconds": round(build_seconds, 1),
        "sending_done_seconds": round(sent_done - t0, 1),
        "fake_created": stats["created"],
        "callbacks_done": stats["callbacks_done"],
        "callbacks_failed": stats["callbacks_failed"],
        "statuses": statuses,
        "peak_rss_mb": memory,
        "optout_under_load": optout,
    }


def _status_counts(campaign_id: int) -> dict:
    from django.db.models import Count

    rows = OutboundMessage.objects.filter(campaign_id=campaign_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def _wait(condition, timeout: float, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        time.sleep(every)
