# shellcheck shell=bash
# Shared settings and helpers for kafka-up.sh and kafka-down.sh.
# Sourced, not run. Expects KAFKA_DEPLOY_DIR (this folder) to be set.

KAFKA_REPO_DIR="$(cd "$KAFKA_DEPLOY_DIR/../.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$KAFKA_REPO_DIR/.run/kafka-$KAFKA_PORT}"
# shellcheck disable=SC2034 # used by the scripts that source this file
KAFKA_LIB_DIR="$KAFKA_DEPLOY_DIR/lib"

KAFKA_PID_FILE="$KAFKA_DATA_DIR/broker.pid"
# shellcheck disable=SC2034 # used by the scripts that source this file
KAFKA_LOG_FILE="$KAFKA_DATA_DIR/broker.log"
KAFKA_PROPS_FILE="$KAFKA_DATA_DIR/server.properties"

die() {
  printf 'kafka: error: %s\n' "$*" >&2
  exit 1
}

say() {
  printf 'kafka: %s\n' "$*"
}

check_port_var() {
  local name=$1 value=$2
  if [[ ! $value =~ ^[0-9]+$ ]] || ((value < 1 || value > 65535)); then
    die "$name must be a TCP port number, got '$value'"
  fi
}

check_port_var KAFKA_PORT "$KAFKA_PORT"
check_port_var KAFKA_CONTROLLER_PORT "$KAFKA_CONTROLLER_PORT"
[[ $KAFKA_PORT != "$KAFKA_CONTROLLER_PORT" ]] ||
  die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both are $KAFKA_PORT)"
# Relative data dirs would change meaning with the current directory.
[[ $KAFKA_DATA_DIR == /* ]] || KAFKA_DATA_DIR="$PWD/$KAFKA_DATA_DIR"

# Milliseconds since the epoch.
now_ms() {
  date +%s%3N
}

# "12.3s" from a start time taken with now_ms.
elapsed_since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# True if 127.0.0.1:$1 answers a Kafka ApiVersions (v0) request with our
# correlation id: a real Kafka protocol round trip, not just an open port.
speaks_kafka() {
  local reply
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  reply="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    # size=10 | api_key=18 (ApiVersions) | api_version=0 |
    # correlation_id=0x4b41464b ("KAFK") | client_id=null (-1)
    printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x4b\x41\x46\x4b\xff\xff" >&3
    # Response: int32 size, int32 correlation_id, ...
    head -c 8 <&3 | od -An -tx1
  ' _ "$1" 2>/dev/null)" || return 1
  reply="${reply//[[:space:]]/}"
  [[ ${#reply} -eq 16 && ${reply:8:8} == 4b41464b ]]
}

# True if pid $1 is alive and is the broker for this data dir (guards
# against a stale pid file whose pid was reused by another process).
is_our_broker() {
  local pid=$1 cmdline stat state try
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ -r /proc/$pid/cmdline ]] || return 0 # no procfs: trust the pid
  for try in 1 2 3 4 5 6 7 8 9 10; do
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ -z $cmdline ]] || break
    # Empty cmdline: a zombie (gone for our purposes), or a process caught
    # in the middle of execve (setsid -> nohup -> java): look again.
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    state="${stat##*) }"
    [[ ${state%% *} != [ZX] ]] || return 1
    ((try < 10)) || return 1
    sleep 0.1
  done
  [[ $cmdline == *"kafka.Kafka $KAFKA_PROPS_FILE"* ]]
}

# Prints the pid of our running broker, or nothing. Removes a stale pid file.
running_pid() {
  local pid
  [[ -f $KAFKA_PID_FILE ]] || return 0
  pid="$(<"$KAFKA_PID_FILE")"
  if is_our_broker "$pid"; then
    printf '%s\n' "$pid"
  else
    rm -f "$KAFKA_PID_FILE"
  fi
}
