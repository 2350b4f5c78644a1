#!/usr/bin/env bash
# Local bankrec infrastructure without Docker: PostgreSQL + a real Kafka broker.
#
# Usage: deploy/local/stack.sh up|down|status
#
#   up      postgres.sh start, then kafka.sh start
#   down    kafka.sh stop, then postgres.sh stop
#   status  both statuses; exit 0 only if both are running
#
# Environment is passed through (KAFKA_PORT, KAFKA_CONTROLLER_PORT,
# KAFKA_DATA_DIR, BANKREC_PG_PORT, BANKREC_CACHE_DIR, ...); see those scripts.
# Connection settings for the services once up:
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:${KAFKA_PORT:-9092}
#   BANKREC_LEDGER_DATABASE_URL=$(deploy/local/postgres.sh url bankrec_ledger)
#   BANKREC_RECONCILER_DATABASE_URL=$(deploy/local/postgres.sh url bankrec_reconciler)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA="$SCRIPT_DIR/kafka.sh"
POSTGRES="$SCRIPT_DIR/postgres.sh"

die() {
    echo "stack.sh: error: $*" >&2
    exit 1
}

usage() {
    echo "usage: $(basename "$0") up|down|status" >&2
    exit 2
}

cmd_up() {
    "$POSTGRES" start || die "PostgreSQL did not start"
    "$KAFKA" start || die "Kafka did not start"
}

cmd_down() {
    local rc=0
    "$KAFKA" stop || rc=1
    "$POSTGRES" stop || rc=1
    ((rc == 0)) || die "could not stop everything (see above)"
}

cmd_status() {
    local rc=0
    "$POSTGRES" status || rc=1
    "$KAFKA" status || rc=1
    return "$rc"
}

[[ $# -eq 1 ]] || usage
case "$1" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage ;;
esac
