"""Entry point for Celery processes started by tests: the network guard first, then Celery's own CLI.

python -m testing.worker_main -A smsconsent worker --pool=solo
"""

import sys

from testing import network_guard

network_guard.install()

from celery.__main__ import main  # noqa: E402  (after the guard, so nothing can resolve twilio.com first)

if __name__ == "__main__":
    sys.argv[0] = "celery"
    sys.exit(main())
