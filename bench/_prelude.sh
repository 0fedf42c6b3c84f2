# Sourced by bench/run and bench/profile-refresh: prerequisites, a fresh database, cleanup on exit.
# Defines: BENCH REPO VENV RUN_DIR DB, and run_driver ARGS... (runs bench/driver.py, cleans up after).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")
VENV="$REPO/.venv"
PGARGS=(-h 127.0.0.1 -p 5432 -U postgres)

log() { printf 'bench: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  log "installing wrk (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2 \
    || { as_root apt-get update >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2; }
}

ensure_venv() {
  if [ ! -x "$VENV/bin/authserver" ] || [ ! -x "$VENV/bin/gunicorn" ]; then
    log "creating the virtualenv (make setup)"
    make -C "$REPO" setup >&2
  fi
  "$VENV/bin/python" -c 'import requests, argon2' 2>/dev/null || "$VENV/bin/pip" install --quiet requests >&2
}

ensure_postgres() {
  pg_isready -q -h 127.0.0.1 -p 5432 && return
  [ -x "$REPO/.ci/services" ] && "$REPO/.ci/services" >&2 || true
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL does not answer on 127.0.0.1:5432"; exit 1; }
}

# Kill a pid from a pid file only if it is still the program we started (pid reuse).
kill_from_pidfile() {  # FILE PROGRAM
  local pid
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$2"; then
    log "stopping leftover $2 (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true   # its own session/group
    for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
}

DRIVER_PID=""
CLEANED=""
cleanup() {
  [ -n "$CLEANED" ] && return
  CLEANED=1
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true   # the driver stops gunicorn and wrk itself
    for _ in $(seq 1 120); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.25; done
  fi
  kill_from_pidfile "$RUN_DIR/wrk.pid" wrk
  kill_from_pidfile "$RUN_DIR/gunicorn.pid" gunicorn
  if [ -n "${DB:-}" ]; then
    dropdb "${PGARGS[@]}" --if-exists --force "$DB" 2>/dev/null \
      && log "dropped database $DB" || log "could not drop database $DB"
  fi
  # keep the last 10 work directories (logs, wrk output) for inspection
  ls -1dt "$BENCH"/.work/[0-9]*T[0-9]*Z-[0-9]*/ 2>/dev/null | tail -n +11 | xargs -r rm -rf || true
}

on_signal() { log "interrupted"; cleanup; exit 130; }

start_run() {
  ensure_wrk
  ensure_venv
  ensure_postgres
  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  RUN_DIR="$BENCH/.work/$stamp-$$"
  DB="authserver_bench_$(date -u +%Y%m%d_%H%M%S)_$$"
  mkdir -p "$RUN_DIR"
  trap cleanup EXIT
  trap on_signal INT TERM HUP
  createdb "${PGARGS[@]}" "$DB"
  log "created database $DB; work directory ${RUN_DIR#"$REPO"/}"
}

run_driver() {  # SUBCOMMAND ARGS...
  local sub=$1; shift
  # In the background + wait, so a TERM/INT to this script runs the trap at once.
  "$VENV/bin/python" "$BENCH/driver.py" "$sub" --run-dir "$RUN_DIR" --db "$DB" \
    --command-line "$COMMAND_LINE" "$@" &
  DRIVER_PID=$!
  local rc=0
  wait "$DRIVER_PID" || rc=$?
  DRIVER_PID=""
  return "$rc"
}
