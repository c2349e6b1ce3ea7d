"""`make bench [SCALE=N]`: build the data set, run every case, record the results.

    python -m benchmarks.run --scale 100000 [--cases audience,admin,dispatch,e2e] [--no-readme]

Uses its own database (`smsconsent_bench`, replaced on every run) and Redis
database 7, never the development or test ones.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime

from .procs import DATABASE_URL, REDIS_URL, ROOT, bench_env

ALL_CASES = ("audience", "admin", "dispatch", "e2e")


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=1_000_000)
    parser.add_argument("--cases", default=",".join(ALL_CASES))
    parser.add_argument("--database-url", default=DATABASE_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--no-readme", action="store_true", help="don't rewrite the README's table")
    return parser.parse_args(argv)


def _database_create(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    exists = subprocess.run(
        ["psql", server, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", server, "-qc", f'CREATE DATABASE "{name}"'], check=True)


def _memory_scales(scale: int) -> list[int]:
    return [s for s in (10_000, 100_000) if s < scale]


def _worker_peak(end_to_end: dict) -> tuple[float, float]:
    """The largest peak RSS of any worker process (parent or pool child), and beat's."""
    workers = [mb for name, peaks in end_to_end["peak_rss_mb"].items() if name != "beat" for mb in peaks.values()]
    beat = max(end_to_end["peak_rss_mb"].get("beat", {}).values(), default=0)
    return round(max(workers), 1), round(beat, 1)


def main(argv=None) -> None:
    args = _parse(argv)
    cases = set(args.cases.split(","))

    def env_for(**extra):
        return bench_env(database_url=args.database_url, redis_url=args.redis_url, **extra)

    os.environ.update(env_for())
    _database_create(args.database_url)

    import django

    django.setup()
    import redis
    from django.core.management import call_command

    from . import cases as bench_cases
    from .admin_case import case_admin
    from .dataset import dataset_build
    from .report import markdown_table, readme_update, results_write

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG=0 serves the hashed files, as in production
    redis.Redis.from_url(args.redis_url).flushdb()
    result = {
        "scale": args.scale,
        "started_at": datetime.now(UTC).isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}",
        "git": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
    }
    worker_peaks, beat_peaks = {}, {}
    if "e2e" in cases:
        for small in _memory_scales(args.scale):
            print(f"memory: {small:,} contacts end to end", flush=True)
            dataset = dataset_build(scale=small)
            e2e = bench_cases.case_end_to_end(
                program_id=dataset.campaign_program_id, env_for=env_for, with_optout=False
            )
            worker_peaks[str(small)], beat_peaks[str(small)] = _worker_peak(e2e)

    print(f"data set: {args.scale:,} contacts", flush=True)
    started = time.perf_counter()
    dataset = dataset_build(scale=args.scale)
    result["dataset"] = {"seconds": round(time.perf_counter() - started, 1), **dataset.counts}
    print(f"  built in {result['dataset']['seconds']} s: {dataset.counts}", flush=True)

    audience = None
    if cases & {"audience", "dispatch", "admin"}:
        print("1. audience build", flush=True)
        audience = bench_cases.case_audience_build(
            program_id=dataset.campaign_program_id, database_url=args.database_url
        )
        result["audience_build"] = audience
        print(f"  {audience}", flush=True)
    if "admin" in cases:
        print("5. admin at scale", flush=True)
        result["admin"] = case_admin(campaign_id=audience["campaign_id"])
        print(f"  {result['admin']}", flush=True)
    if "dispatch" in cases:
        print("2. dispatch", flush=True)
        result["dispatch"] = bench_cases.case_dispatch(campaign_id=audience["campaign_id"], env_for=env_for)
        print(f"  {result['dispatch']}", flush=True)
    if audience:
        _campaign_discard(audience["campaign_id"])
    if "e2e" in cases:
        print("6 + 4. end to end with STOPs under load", flush=True)
        e2e = bench_cases.case_end_to_end(program_id=dataset.campaign_program_id, env_for=env_for, with_optout=True)
        result["end_to_end"] = e2e
        worker_peaks[str(args.scale)], beat_peaks[str(args.scale)] = _worker_peak(e2e)
        smallest = min(worker_peaks, key=int)
        result["memory"] = {
            "worker_peak_mb": worker_peaks,
            "beat_peak_mb": beat_peaks,
            "ratio": round(worker_peaks[str(args.scale)] / worker_peaks[smallest], 2)
            if smallest != str(args.scale)
            else None,
        }
        print(f"  {e2e}", flush=True)

    result["finished_at"] = datetime.now(UTC).isoformat()
    path = results_write(result)
    if not args.no_readme:
        readme_update(result)
    print(f"\nresults: {path.relative_to(ROOT)}\n\n{markdown_table(result)}")


def _campaign_discard(campaign_id: int) -> None:
    """The measurement campaign's unsent rows are cancelled so the end-to-end run has the stage to itself."""
    from campaigns.dispatch import campaigns_cancel_pending
    from campaigns.models import Campaign, CampaignStatus

    Campaign.objects.filter(pk=campaign_id).update(status=CampaignStatus.CANCELLED)
    campaigns_cancel_pending(campaign_id=campaign_id)


if __name__ == "__main__":
    sys.exit(main())
