#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer, starting the installed servers when they are stopped.
# Usage: scripts/ensure-services.sh [postgres] [redis]   (both when no argument)
set -euo pipefail
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(postgres redis)

wait_for() {  # name, check command...
  local name=$1; shift
  for _ in $(seq 1 30); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "error: $name did not come up" >&2; return 1
}

for svc in "${want[@]}"; do
  case $svc in
    postgres)
      if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
          echo "starting PostgreSQL"
          pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
          wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
        else
          echo "error: PostgreSQL does not answer on 127.0.0.1:5432 and is not installed (apt-get install postgresql)" >&2
          exit 1
        fi
      fi ;;
    redis)
      if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        if command -v redis-server >/dev/null; then
          echo "starting Redis"
          mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
          redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir "$(test -w /var/lib/redis && echo /var/lib/redis || echo /tmp)" \
            --logfile "$(test -w /var/log/redis && echo /var/log/redis/ci.log || echo /tmp/redis.log)"
          wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
        else
          echo "error: Redis does not answer on 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server)" >&2
          exit 1
        fi
      fi ;;
  esac
done
