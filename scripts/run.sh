#!/usr/bin/env bash
# `make run`: the embedded database, demo data, a Celery worker and beat, and the web server.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
CELERY=.venv/bin/celery
if [ ! -x "$PY" ]; then
  echo "error: no .venv here; start with 'make run', which creates it and installs requirements.txt" >&2
  exit 1
fi

export DEBUG="${DEBUG:-1}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
HOST=127.0.0.1
PORT="${RUN_PORT:-8000}"
mkdir -p var

# Keys made once under var/ and shared by every process below and every restart; development Twilio
# values so the phone's signed replies verify; PUBLIC_BASE_URL on this port (scripts/dev_env.py).
dev_env=$("$PY" scripts/dev_env.py --port "$PORT")
eval "$dev_env"

children=()
cleanup() {
  trap - EXIT INT TERM
  if [ ${#children[@]} -gt 0 ]; then
    echo "stopping: ${children[*]}"
    kill -TERM "${children[@]}" 2>/dev/null || true
    wait "${children[@]}" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

redis_answers() {
  "$PY" - "$REDIS_URL" <<'PYEOF' >/dev/null 2>&1
import sys, redis
redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()
PYEOF
}

# --- Redis: use REDIS_URL; start a local server only when none answers ---------------------
if ! redis_answers; then
  read -r redis_host redis_port < <("$PY" -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or 6379)' "$REDIS_URL")
  if [ "$redis_host" != 127.0.0.1 ] && [ "$redis_host" != localhost ]; then
    echo "error: Redis does not answer at $REDIS_URL (a remote server: start it there, or unset REDIS_URL)" >&2
    exit 1
  fi
  if ! command -v "${REDIS_SERVER:-redis-server}" >/dev/null 2>&1; then
    echo "error: Redis does not answer at $REDIS_URL and redis-server is not installed." >&2
    echo "       Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)," >&2
    echo "       or set REDIS_URL to a Redis server that is running." >&2
    exit 1
  fi
  echo "starting a local redis-server on $redis_host:$redis_port (stops with this command)"
  "${REDIS_SERVER:-redis-server}" --bind "$redis_host" --port "$redis_port" --save "" --appendonly no \
    --dir "$PWD/var" --logfile "$PWD/var/redis.log" &
  children+=($!)
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
  redis_answers || { echo "error: the local redis-server did not come up; see var/redis.log" >&2; exit 1; }
fi

# --- Database and demo data ----------------------------------------------------------------------
"$PY" manage.py migrate --noinput -v 0
login=$("$PY" manage.py seed_demo --if-empty)

# --- Background workers, then the web server in the foreground -------------------------------------
# At WARNING: their heartbeat lines would bury the texts, which the console backend prints on lines of their own.
"$CELERY" -A smsconsent --quiet worker --loglevel=WARNING --concurrency=2 -n "worker.$$@%h" &
children+=($!)
"$CELERY" -A smsconsent --quiet beat --loglevel=WARNING --schedule var/celerybeat-schedule &
children+=($!)

cat <<EOT

  smsconsent is starting on http://$HOST:$PORT/
  Admin:  http://$HOST:$PORT/admin/
  $login
  Phone:  http://$HOST:$PORT/admin/phone/  (a person's phone in the browser: read texts, reply YES or STOP)
  Sign-up page: http://$HOST:$PORT/join/deals/
  SMS backend: $("$PY" -c 'from django.conf import settings; import django, os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsconsent.settings"); django.setup(); print(settings.SMS_BACKEND)')
  Ctrl-C stops the web server, the worker and beat.

EOT
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
children+=($!)
# Wait for the web server; if any child dies first, stop the rest too.
wait -n "${children[@]}"
