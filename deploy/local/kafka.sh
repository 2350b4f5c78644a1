#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft) from Maven Central jars,
# without Docker. See /work/shared/KAFKA_LOCAL.md for the background.
#
# Usage: deploy/local/kafka.sh fetch|start|stop|status|wait
#
#   fetch   resolve the broker jars into $BANKREC_CACHE_DIR/kafka-<version>/libs
#   start   fetch if needed, format storage once, start in the background and
#           wait until ready; exits 0 if a broker already listens on the port
#   stop    SIGTERM, SIGKILL after 30 s; harmless if not running
#   status  exit 0 if a broker listens on the port, 1 otherwise
#   wait    wait until the broker on the port is ready
#
# Environment:
#   KAFKA_PORT             PLAINTEXT listener port          (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port   (default 9093)
#   KAFKA_DATA_DIR         per-broker state dir (default $BANKREC_CACHE_DIR/kafka-data-<port>)
#   KAFKA_START_TIMEOUT    seconds to wait for readiness    (default 90)
#   KAFKA_CLUSTER_ID       cluster id used to format storage (default: fixed)
#   KAFKA_HEAP_OPTS        JVM heap flags                   (default -Xms256m -Xmx1g)
#   BANKREC_CACHE_DIR      cache root                       (default <repo>/.cache)
#
# Several brokers can run at once as long as each has its own ports (and so,
# by default, its own data dir).
#
# Data dir layout: server.properties, kafka.pid, logs/server.log,
# logs/stdout.log, data/ (log.dirs).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"
LOG4J_CONFIG="$SCRIPT_DIR/kafka/log4j2.yaml"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
DEFAULT_CLUSTER_ID="Ty2Gn9X6W8Wz_6oU7MvKbw"
STARTED_MESSAGE="Kafka Server started"
STOP_TIMEOUT=30

die() {
    echo "kafka.sh: error: $*" >&2
    exit 1
}

note() {
    echo "kafka.sh: $*" >&2
}

usage() {
    echo "usage: $(basename "$0") fetch|start|stop|status|wait" >&2
    exit 2
}

require_port() {
    local name="$1" value="$2"
    if ! [[ "$value" =~ ^[1-9][0-9]{0,4}$ ]] || ((value > 65535)); then
        die "$name must be a TCP port number, got '$value'"
    fi
}

# ----------------------------------------------------------------- settings

[[ -f "$POM" ]] || die "missing $POM"
[[ -f "$LOG4J_CONFIG" ]] || die "missing $LOG4J_CONFIG"

KAFKA_VERSION="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || die "could not read <kafka.version> from $POM"

CACHE_DIR="${BANKREC_CACHE_DIR:-$REPO_ROOT/.cache}"
mkdir -p "$CACHE_DIR" || die "cannot create cache dir $CACHE_DIR"
CACHE_DIR="$(cd "$CACHE_DIR" && pwd)"
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
LIBS_DIR="$KAFKA_HOME/libs"
FETCH_MARKER="$KAFKA_HOME/.fetched"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
require_port KAFKA_PORT "$KAFKA_PORT"
require_port KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ "$KAFKA_PORT" != "$KAFKA_CONTROLLER_PORT" ]] ||
    die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $KAFKA_PORT)"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
[[ "$KAFKA_START_TIMEOUT" =~ ^[0-9]+$ ]] || die "KAFKA_START_TIMEOUT must be whole seconds"
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-$DEFAULT_CLUSTER_ID}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"

DATA_DIR="${KAFKA_DATA_DIR:-$CACHE_DIR/kafka-data-$KAFKA_PORT}"
PID_FILE=""  # set by resolve_data_dir
LOGS_DIR=""
SERVER_LOG=""
STDOUT_LOG=""
PROPS_FILE=""

# Sets the data dir paths; creates the dir only when $1 == create (start), so
# status/stop/wait leave no empty dirs behind.
resolve_data_dir() {
    if [[ "${1:-}" == create ]]; then
        mkdir -p "$DATA_DIR" || die "cannot create data dir $DATA_DIR"
    fi
    DATA_DIR="$(realpath -m "$DATA_DIR")"
    PID_FILE="$DATA_DIR/kafka.pid"
    LOGS_DIR="$DATA_DIR/logs"
    SERVER_LOG="$LOGS_DIR/server.log"
    STDOUT_LOG="$LOGS_DIR/stdout.log"
    PROPS_FILE="$DATA_DIR/server.properties"
}

# ------------------------------------------------------------------ helpers

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Pid from the pid file if that process is alive and is the broker started
# from this data dir (guards against stale files and pid reuse); else empty.
managed_pid() {
    local pid cmdline
    [[ -f "$PID_FILE" ]] || return 0
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] || return 0
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 0
    if [[ "$cmdline" == *kafka.Kafka*"$PROPS_FILE"* ]]; then
        echo "$pid"
    fi
}

# The broker running from this data dir must be the one on $KAFKA_PORT.
require_same_port() {
    grep -qx "listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,.*" "$PROPS_FILE" 2>/dev/null ||
        die "data dir $DATA_DIR is in use by a broker (pid $1) on another port; use a separate KAFKA_DATA_DIR per port"
}

print_log_tail() {
    local f
    for f in "$SERVER_LOG" "$STDOUT_LOG"; do
        if [[ -s "$f" ]]; then
            echo "---- last lines of $f ----" >&2
            tail -n 40 "$f" >&2
        fi
    done
}

require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH (needed: $*)"
    done
}

# ------------------------------------------------------------------- fetch

pom_checksum() {
    sha256sum "$POM" | cut -d' ' -f1
}

is_fetched() {
    [[ -f "$FETCH_MARKER" && "$(cat "$FETCH_MARKER")" == "$(pom_checksum)" ]]
}

cmd_fetch() {
    is_fetched && return 0
    require_tools mvn java flock sha256sum
    mkdir -p "$KAFKA_HOME"
    # Serialize concurrent fetches (e.g. parallel test workers).
    exec 8>"$KAFKA_HOME/.fetch.lock"
    flock 8
    if is_fetched; then
        exec 8>&-
        return 0
    fi
    local tmp="$KAFKA_HOME/libs.tmp" mvn_log="$KAFKA_HOME/fetch.log"
    rm -rf "$tmp"
    if ! mvn -B -q -Dstyle.color=never -f "$POM" \
        "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
        tail -n 30 "$mvn_log" >&2
        rm -rf "$tmp"
        die "maven could not fetch Kafka $KAFKA_VERSION (full log: $mvn_log)"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
        die "maven finished but $tmp/kafka_2.13-$KAFKA_VERSION.jar is missing"
    rm -rf "$LIBS_DIR"
    mv "$tmp" "$LIBS_DIR"
    pom_checksum >"$FETCH_MARKER"
    exec 8>&-
}

# ------------------------------------------------------------------- start

write_server_properties() {
    cat >"$PROPS_FILE" <<EOF
# Generated by deploy/local/kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR/data
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
num.partitions=3
default.replication.factor=1
EOF
}

format_storage() {
    [[ -f "$DATA_DIR/data/meta.properties" ]] && return 0
    local out="$LOGS_DIR/format.log"
    if ! java -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOGS_DIR" \
        -cp "$LIBS_DIR/*" kafka.tools.StorageTool format --ignore-formatted \
        -t "$KAFKA_CLUSTER_ID" -c "$PROPS_FILE" >"$out" 2>&1; then
        cat "$out" >&2
        die "formatting storage in $DATA_DIR/data failed"
    fi
}

# Wait until the broker with pid $1 logs that it started. On death or timeout
# print the log tail; on timeout also stop it. Returns non-zero on failure.
wait_for_started() {
    local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    while true; do
        if grep -qF "$STARTED_MESSAGE" "$SERVER_LOG" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            print_log_tail
            rm -f "$PID_FILE"
            note "error: Kafka (pid $pid) exited during start-up on 127.0.0.1:$KAFKA_PORT (logs in $LOGS_DIR)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            print_log_tail
            note "error: Kafka not ready on 127.0.0.1:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s; stopping it (logs in $LOGS_DIR)"
            stop_pid "$pid"
            return 1
        fi
        sleep 0.25
    done
}

cmd_start() {
    cmd_fetch
    require_tools java flock timeout
    resolve_data_dir create
    mkdir -p "$LOGS_DIR" "$DATA_DIR/data"
    # Serialize concurrent starts for the same data dir. fd 9 is closed for
    # the broker below so the lock is released when this script exits.
    exec 9>"$DATA_DIR/.start.lock"
    flock 9

    local pid
    pid="$(managed_pid)"
    if [[ -n "$pid" ]]; then
        require_same_port "$pid"
        wait_for_started "$pid" || exit 1
        echo "Kafka already running on 127.0.0.1:$KAFKA_PORT (pid $pid, data dir $DATA_DIR)"
        return 0
    fi
    rm -f "$PID_FILE"
    if port_open "$KAFKA_PORT"; then
        echo "A broker is already listening on 127.0.0.1:$KAFKA_PORT (not started from $DATA_DIR); leaving it alone"
        return 0
    fi
    if port_open "$KAFKA_CONTROLLER_PORT"; then
        die "controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is already in use; set KAFKA_CONTROLLER_PORT"
    fi

    write_server_properties
    format_storage
    # Fresh log per run, so an old "started" line cannot fool the wait below.
    [[ -f "$SERVER_LOG" ]] && mv -f "$SERVER_LOG" "$SERVER_LOG.1"
    # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is a list of flags
    nohup java $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOGS_DIR" \
        -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS_FILE" \
        </dev/null >"$STDOUT_LOG" 2>&1 8>&- 9>&- &
    pid=$!
    echo "$pid" >"$PID_FILE"
    wait_for_started "$pid" || exit 1
}

# -------------------------------------------------------------------- stop

stop_pid() {
    local pid="$1" deadline=$((SECONDS + STOP_TIMEOUT))
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            note "Kafka (pid $pid) still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$((SECONDS + 10))
            while kill -0 "$pid" 2>/dev/null; do
                ((SECONDS < deadline)) || die "could not kill Kafka (pid $pid)"
                sleep 0.25
            done
            break
        fi
        sleep 0.25
    done
    rm -f "$PID_FILE"
}

cmd_stop() {
    resolve_data_dir
    local pid
    pid="$(managed_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        if port_open "$KAFKA_PORT"; then
            note "127.0.0.1:$KAFKA_PORT is in use by a process not started from $DATA_DIR; not stopping it"
        fi
        return 0
    fi
    stop_pid "$pid"
}

# ------------------------------------------------------------ status, wait

cmd_status() {
    resolve_data_dir
    local pid
    pid="$(managed_pid)"
    if port_open "$KAFKA_PORT"; then
        if [[ -n "$pid" ]]; then
            echo "Kafka running on 127.0.0.1:$KAFKA_PORT (pid $pid, data dir $DATA_DIR)"
        else
            echo "a broker is listening on 127.0.0.1:$KAFKA_PORT (not started from $DATA_DIR)"
        fi
        return 0
    fi
    if [[ -n "$pid" ]]; then
        echo "Kafka starting on 127.0.0.1:$KAFKA_PORT (pid $pid), not accepting connections yet"
    else
        echo "Kafka not running on 127.0.0.1:$KAFKA_PORT"
    fi
    return 1
}

cmd_wait() {
    resolve_data_dir
    local pid deadline=$((SECONDS + KAFKA_START_TIMEOUT))
    pid="$(managed_pid)"
    if [[ -n "$pid" ]]; then
        require_same_port "$pid"
        wait_for_started "$pid" || exit 1
        return 0
    fi
    # Not ours (or not started yet): fall back to a TCP probe.
    until port_open "$KAFKA_PORT"; do
        ((SECONDS < deadline)) ||
            die "nothing listening on 127.0.0.1:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s"
        sleep 0.5
    done
}

# -------------------------------------------------------------------- main

[[ $# -eq 1 ]] || usage
case "$1" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
