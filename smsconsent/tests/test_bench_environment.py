"""`make bench` starts: its processes' environment passes the production settings' own checks.

The benchmarks run with DEBUG=0, so every rule for production keys applies to them; a rule added
later (a key's minimum length, say) must not stop `make bench` without a test failing first.
"""

import subprocess
import sys

from benchmarks.procs import ROOT, bench_env


def test_the_benchmark_environment_passes_the_production_checks():
    env = bench_env(
        database_url="postgres://postgres@127.0.0.1:5432/smsconsent_bench", redis_url="redis://127.0.0.1:6379/7"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
