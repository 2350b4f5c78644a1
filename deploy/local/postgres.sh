#!/usr/bin/env bash
# Local PostgreSQL (Debian packages, no Docker) for bankrec development and tests.
#
# Usage: deploy/local/postgres.sh start|stop|status|url DB
#
#   start   install postgresql if missing (apt-get, needs root), create the
#           cluster if missing, start it, wait until ready, then make sure the
#           role bankrec/bankrec (LOGIN CREATEDB) and the databases
#           bankrec_ledger, bankrec_reconciler and bankrec_test (owned by
#           bankrec) exist and that password login over TCP on 127.0.0.1 works
#   stop    stop the cluster; harmless if not running
#   status  exit 0 if PostgreSQL accepts connections on 127.0.0.1:port, else 1
#   url DB  print the SQLAlchemy URL of DB, e.g.
#           postgresql+psycopg://bankrec:bankrec@127.0.0.1:5432/bankrec_ledger
#
# Environment:
#   BANKREC_PG_PORT     port (default 5432). The cluster of the installed major
#                       version that uses this port is used; if there is none,
#                       "main" is created on it (or "bankrec_<port>" if "main"
#                       exists on another port).
#   BANKREC_PG_VERSION  major version (default: newest installed)
#   BANKREC_CACHE_DIR   cache root for the lock file (default <repo>/.cache)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

PG_HOST=127.0.0.1
PG_PORT="${BANKREC_PG_PORT:-5432}"
PG_ROLE=bankrec
PG_PASSWORD=bankrec
PG_DATABASES=(bankrec_ingest bankrec_ledger bankrec_reconciler bankrec_test)
READY_TIMEOUT=60

die() {
    echo "postgres.sh: error: $*" >&2
    exit 1
}

note() {
    echo "postgres.sh: $*" >&2
}

usage() {
    echo "usage: $(basename "$0") start|stop|status|url DB" >&2
    exit 2
}

if ! [[ "$PG_PORT" =~ ^[1-9][0-9]{0,4}$ ]] || ((PG_PORT > 65535)); then
    die "BANKREC_PG_PORT must be a TCP port number, got '$PG_PORT'"
fi

# Run a command as the postgres OS user, from a directory it can read.
as_postgres() {
    if [[ "$(id -un)" == postgres ]]; then
        (cd / && "$@")
    elif [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    elif command -v sudo >/dev/null 2>&1; then
        (cd / && sudo -n -u postgres -- "$@")
    else
        die "run as root (or postgres): cannot switch to the postgres user"
    fi
}

require_root() {
    [[ $EUID -eq 0 ]] || die "$* needs root; re-run as root (e.g. with sudo)"
}

pg_installed() {
    command -v pg_lsclusters >/dev/null 2>&1 &&
        command -v pg_createcluster >/dev/null 2>&1 &&
        compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

install_postgres() {
    require_root "installing postgresql"
    note "postgresql is not installed; installing it with apt-get"
    local log
    log="$(mktemp)"
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        die "apt-get install postgresql failed"
    fi
    rm -f "$log"
    pg_installed || die "postgresql was installed but its server binaries were not found"
}

# Sets PG_VERSION to the requested or newest installed major version.
detect_version() {
    if [[ -n "${BANKREC_PG_VERSION:-}" ]]; then
        PG_VERSION="$BANKREC_PG_VERSION"
        [[ -x "/usr/lib/postgresql/$PG_VERSION/bin/postgres" ]] ||
            die "PostgreSQL $PG_VERSION is not installed (BANKREC_PG_VERSION)"
        return 0
    fi
    PG_VERSION="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
        awk -F/ '{print $(NF-2)}' | sort -n | tail -n1)"
    [[ -n "$PG_VERSION" ]] || die "no PostgreSQL server found under /usr/lib/postgresql"
}

# Prints "<name> <status>" of the $PG_VERSION cluster on $PG_PORT, if any.
cluster_on_port() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v p="$PG_PORT" '$1 == v && $3 == p {print $2, $4; exit}'
}

cluster_exists() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v n="$1" '$1 == v && $2 == n {found=1} END {exit !found}'
}

# Sets PG_CLUSTER (creating the cluster if needed when $1 == create).
find_cluster() {
    local found
    found="$(cluster_on_port)"
    if [[ -n "$found" ]]; then
        PG_CLUSTER="${found%% *}"
        return 0
    fi
    [[ "${1:-}" == create ]] || return 1
    require_root "creating a PostgreSQL cluster"
    PG_CLUSTER=main
    if cluster_exists main; then
        PG_CLUSTER="bankrec_$PG_PORT"
    fi
    note "creating PostgreSQL $PG_VERSION cluster '$PG_CLUSTER' on port $PG_PORT"
    local out
    out="$(pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" 2>&1)" || {
        echo "$out" >&2
        die "pg_createcluster $PG_VERSION $PG_CLUSTER -p $PG_PORT failed"
    }
}

cluster_online() {
    pg_lsclusters -h 2>/dev/null |
        awk -v v="$PG_VERSION" -v n="$PG_CLUSTER" '$1 == v && $2 == n && $4 ~ /^online/ {found=1} END {exit !found}'
}

cluster_log() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v n="$PG_CLUSTER" '$1 == v && $2 == n {print $7}'
}

tcp_ready() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT))
    until tcp_ready; do
        if ((SECONDS >= deadline)); then
            local log
            log="$(cluster_log)"
            [[ -n "$log" && -f "$log" ]] && tail -n 30 "$log" >&2
            die "PostgreSQL $PG_VERSION/$PG_CLUSTER not accepting TCP connections on $PG_HOST:$PG_PORT after ${READY_TIMEOUT}s (check listen_addresses and the log${log:+ $log})"
        fi
        sleep 0.5
    done
}

# psql as the postgres superuser over the local socket.
psql_admin() {
    as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

ensure_role_and_databases() {
    local sql_dbs
    sql_dbs="$(printf "'%s'," "${PG_DATABASES[@]}")"
    sql_dbs="${sql_dbs%,}"
    psql_admin >/dev/null <<SQL || die "could not create role $PG_ROLE / databases"
SET client_min_messages = warning;
SET password_encryption = 'scram-sha-256';
SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE')
            THEN 'ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD ''$PG_PASSWORD'''
            ELSE 'CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD ''$PG_PASSWORD'''
       END
\gexec
-- lets the role end its own stray sessions when a test drops its database WITH (FORCE)
GRANT pg_signal_backend TO $PG_ROLE;
SELECT format('CREATE DATABASE %I OWNER $PG_ROLE', d)
  FROM unnest(ARRAY[$sql_dbs]) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SELECT format('ALTER DATABASE %I OWNER TO $PG_ROLE', d)
  FROM unnest(ARRAY[$sql_dbs]) AS d
\gexec
SQL
}

tcp_login_works() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" \
        -U "$PG_ROLE" -d "${PG_DATABASES[0]}" -Atc 'SELECT 1' >/dev/null 2>&1
}

# Debian's default pg_hba.conf allows scram-sha-256 from 127.0.0.1; if this
# cluster's does not, put a rule for the bankrec role first and reload.
ensure_tcp_password_auth() {
    tcp_login_works && return 0
    local hba rule="host    all    $PG_ROLE    $PG_HOST/32    scram-sha-256"
    hba="$(psql_admin -Atc 'SHOW hba_file')" || die "could not locate pg_hba.conf"
    if ! grep -qxF "$rule" "$hba"; then
        note "password login over TCP failed; adding '$rule' to $hba"
        local tmp
        tmp="$(mktemp)"
        { echo "# added by bankrec deploy/local/postgres.sh"; echo "$rule"; cat "$hba"; } >"$tmp"
        cat "$tmp" >"$hba" # keep owner and mode of the original
        rm -f "$tmp"
    fi
    psql_admin -Atc 'SELECT pg_reload_conf()' >/dev/null || die "could not reload PostgreSQL configuration"
    sleep 0.5
    tcp_login_works && return 0
    PGPASSWORD="$PG_PASSWORD" psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" \
        -d "${PG_DATABASES[0]}" -c 'SELECT 1' >&2 || true
    die "password login as $PG_ROLE on $PG_HOST:$PG_PORT still fails (see above and $hba)"
}

# Planner settings for the services' working set (inbox, outbox, open items, decisions), which
# is in memory: random_page_cost at its in-memory/SSD value (1.1, not the spinning-disk 4), so
# a batch's 200 keys are looked up by index rather than by scanning the table; and a 10 s
# autovacuum naptime (not 1 min), so a fresh database's tables have statistics within seconds.
# Without statistics PostgreSQL took every tenant for a small share of its table and searched
# by tenant alone: measured in make bench at 20,000 lines, 3,700-31,000 rows read per lookup.
PG_PLANNER_SETTINGS=("random_page_cost=1.1" "autovacuum_naptime=10s")

ensure_planner_settings() {
    local setting name value changed=0
    for setting in "${PG_PLANNER_SETTINGS[@]}"; do
        name="${setting%%=*}" value="${setting#*=}"
        [[ "$(psql_admin -Atc "SHOW $name")" == "$value" ]] && continue
        psql_admin -qc "ALTER SYSTEM SET $name = '$value'" || die "could not set $name"
        changed=1
    done
    if ((changed)); then
        psql_admin -Atc 'SELECT pg_reload_conf()' >/dev/null || die "could not reload PostgreSQL configuration"
    fi
}

cmd_start() {
    pg_installed || install_postgres
    command -v psql >/dev/null 2>&1 || die "psql not found (install postgresql-client)"
    command -v flock >/dev/null 2>&1 || die "flock not found (install util-linux)"
    detect_version

    local cache_dir="${BANKREC_CACHE_DIR:-$REPO_ROOT/.cache}"
    mkdir -p "$cache_dir"
    exec 9>"$cache_dir/postgres-$PG_PORT.lock"
    flock 9

    find_cluster create
    if ! cluster_online; then
        local out
        # 9>&-: the server must not inherit (and so hold) the start lock.
        out="$(as_postgres pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 2>&1 9>&-)" || {
            echo "$out" >&2
            local log
            log="$(cluster_log)"
            [[ -n "$log" && -f "$log" ]] && tail -n 30 "$log" >&2
            die "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed"
        }
    fi
    wait_ready
    ensure_role_and_databases
    ensure_tcp_password_auth
    ensure_planner_settings
}

cmd_stop() {
    pg_installed || return 0
    detect_version
    find_cluster || return 0
    cluster_online || return 0
    local out
    out="$(as_postgres pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop 2>&1)" || {
        echo "$out" >&2
        die "pg_ctlcluster $PG_VERSION $PG_CLUSTER stop failed"
    }
}

cmd_status() {
    if command -v pg_isready >/dev/null 2>&1 && tcp_ready; then
        echo "PostgreSQL accepting connections on $PG_HOST:$PG_PORT"
        return 0
    fi
    echo "PostgreSQL not running on $PG_HOST:$PG_PORT"
    return 1
}

cmd_url() {
    [[ $# -eq 1 && -n "$1" ]] || die "usage: $(basename "$0") url DB (e.g. bankrec_ledger)"
    echo "postgresql+psycopg://$PG_ROLE:$PG_PASSWORD@$PG_HOST:$PG_PORT/$1"
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
    start) [[ $# -eq 0 ]] || usage; cmd_start ;;
    stop) [[ $# -eq 0 ]] || usage; cmd_stop ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    url) cmd_url "$@" ;;
    *) usage ;;
esac
