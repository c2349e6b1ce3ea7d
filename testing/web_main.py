"""Entry point for web processes started by tests: the network guard first, then gunicorn.

python -m testing.web_main smsconsent.wsgi -b 127.0.0.1:PORT
"""

import sys

from testing import network_guard

network_guard.install()

from gunicorn.app.wsgiapp import run  # noqa: E402  (after the guard, so nothing can resolve twilio.com first)

if __name__ == "__main__":
    sys.argv[0] = "gunicorn"
    sys.exit(run())
