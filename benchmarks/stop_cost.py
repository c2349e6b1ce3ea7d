"""What one STOP costs the web side: CPU of the Django process and of its PostgreSQL backend.

    python -m benchmarks.stop_cost [--requests 500]

Case 4 sends 200 STOPs a second; this says how many cores that takes before any campaign
sends a text. It posts signed STOPs one after another through Django's test client, in this
process, to subscribed contacts of the data set `make bench` leaves in `smsconsent_bench` (run
that first), and reads the CPU time of this process and of its database backend (from /proc,
so PostgreSQL must run on this machine). The test client's own work is included: an upper bound.
"""

import argparse
import json
import os
import time

from .procs import AUTH_TOKEN, DATABASE_URL, REDIS_URL, bench_env

WARM_UP = 20  # first requests load code and fill caches


def _backend_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    args = parser.parse_args(argv)
    os.environ.update(bench_env(database_url=args.database_url, redis_url=args.redis_url, web_url="http://testserver"))

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from twilio.request_validator import RequestValidator

    from contacts.models import Subscription, SubscriptionStatus

    from .cases import stop_request

    phones = [
        str(phone)
        for phone in Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
        .order_by("contact_id")
        .values_list("contact__phone", flat=True)[: args.requests + WARM_UP + 1]
    ]
    if len(phones) < args.requests + WARM_UP + 1:
        raise SystemExit("Too few subscribed contacts in the benchmark database: run `make bench` first.")
    client, validator, url = Client(), RequestValidator(AUTH_TOKEN), "http://testserver/sms/inbound/"

    def post(phone: str) -> None:
        params, headers = stop_request(url, phone, validator)
        response = client.post("/sms/inbound/", params, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"STOP from {phone} answered {response.status_code}: {response.content[:200]!r}")

    for phone in phones[:WARM_UP]:
        post(phone)
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # Counted by a wrapper: the test client's request_started signal empties Django's own query log.
    with connection.execute_wrapper(count):
        post(phones[WARM_UP])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    wall, python, database = time.perf_counter(), time.process_time(), _backend_cpu_seconds(backend)
    for phone in phones[WARM_UP + 1 :]:
        post(phone)
    per_stop = {
        "wall_ms": (time.perf_counter() - wall) * 1000 / args.requests,
        "python_cpu_ms": (time.process_time() - python) * 1000 / args.requests,
        "postgres_cpu_ms": (_backend_cpu_seconds(backend) - database) * 1000 / args.requests,
    }
    cpu_ms = per_stop["python_cpu_ms"] + per_stop["postgres_cpu_ms"]
    result = {
        "requests": args.requests,
        "statements_per_stop": len(statements),
        **{name: round(ms, 2) for name, ms in per_stop.items()},
        "cores_for_200_stops_per_second": round(200 * cpu_ms / 1000, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
