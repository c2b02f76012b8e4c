#!/usr/bin/env bash
# Start a local single-node Apache Kafka broker (KRaft mode) on 127.0.0.1.
# Idempotent: does nothing if it is already running. No Docker, no tarball:
# the Kafka jars come from Maven Central once (see README.md).
#
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
#      KAFKA_DATA_DIR (<repo>/.run/kafka-$KAFKA_PORT),
#      KAFKA_HEAP (-Xmx512m -Xms256m), KAFKA_OPTS (extra JVM options),
#      KAFKA_START_TIMEOUT (90 s), JAVA (java), MVN (mvn),
#      KAFKA_PROPERTIES_TEMPLATE (server.properties.in; kafka-sasl-up.sh passes its own),
#      KAFKA_FORMAT_ADD_SCRAM (a StorageTool --add-scram credential set when formatting).
set -euo pipefail

KAFKA_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=kafka-common.sh
source "$KAFKA_DEPLOY_DIR/kafka-common.sh"

KAFKA_HEAP="${KAFKA_HEAP:--Xmx512m -Xms256m}"
KAFKA_OPTS="${KAFKA_OPTS:-}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
JAVA="${JAVA:-java}"
MVN="${MVN:-mvn}"
KAFKA_PROPERTIES_TEMPLATE="${KAFKA_PROPERTIES_TEMPLATE:-$KAFKA_DEPLOY_DIR/server.properties.in}"
KAFKA_FORMAT_ADD_SCRAM="${KAFKA_FORMAT_ADD_SCRAM:-}"

KAFKA_LOG_DIR="$KAFKA_DATA_DIR/data"
LIB_MARKER="$KAFKA_LIB_DIR/.complete"
STARTED_LINE="Kafka Server started"

t0="$(now_ms)"

fail_with_log() {
  printf 'kafka: error: %s\n' "$*" >&2
  if [[ -f $KAFKA_LOG_FILE ]]; then
    printf -- '--- last 50 lines of %s ---\n' "$KAFKA_LOG_FILE" >&2
    tail -n 50 "$KAFKA_LOG_FILE" >&2
    printf -- '---\n' >&2
  fi
  exit 1
}

# Waits until broker $1 logged "Kafka Server started" and answers a Kafka
# request on the port; exits non-zero on timeout or if the process died.
wait_until_ready() {
  local pid=$1 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    is_our_broker "$pid" ||
      fail_with_log "broker (pid $pid) exited during startup"
    if grep -q "$STARTED_LINE" "$KAFKA_LOG_FILE" 2>/dev/null &&
      speaks_kafka "$KAFKA_PORT"; then
      return 0
    fi
    ((SECONDS < deadline)) ||
      fail_with_log "broker (pid $pid) not ready after ${KAFKA_START_TIMEOUT}s;" \
        "it is left running: stop it with $KAFKA_DEPLOY_DIR/kafka-down.sh"
    sleep 0.5
  done
}

# sha256 of pom.xml: the jar cache is valid for exactly this pom.
pom_digest() {
  sha256sum "$KAFKA_DEPLOY_DIR/pom.xml" | cut -d' ' -f1
}

# Copies Kafka and its runtime dependencies into lib/ with Maven, once.
# A marker written after a successful copy makes later starts skip Maven.
fetch_jars() {
  local want
  want="$(pom_digest)"
  if [[ -f $LIB_MARKER && "$(<"$LIB_MARKER")" == "$want" ]]; then
    return 0
  fi
  mkdir -p "$KAFKA_LIB_DIR"
  # Two instances starting at once must not both fill lib/.
  exec 9>"$KAFKA_LIB_DIR/.lock"
  if command -v flock >/dev/null; then
    flock 9
  fi
  if [[ -f $LIB_MARKER && "$(<"$LIB_MARKER")" == "$want" ]]; then
    exec 9>&-
    return 0
  fi
  command -v "$MVN" >/dev/null ||
    die "Maven ('$MVN') is needed once to fetch the Kafka jars into $KAFKA_LIB_DIR"
  say "fetching Kafka jars with Maven into $KAFKA_LIB_DIR (once) ..."
  local t_fetch
  t_fetch="$(now_ms)"
  rm -f "$LIB_MARKER" "$KAFKA_LIB_DIR"/*.jar
  local mvn_log="$KAFKA_LIB_DIR/.maven.log"
  if ! "$MVN" -B -q -f "$KAFKA_DEPLOY_DIR/pom.xml" \
    dependency:copy-dependencies -DoutputDirectory="$KAFKA_LIB_DIR" \
    </dev/null >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    die "Maven could not fetch the Kafka jars (its output is above)"
  fi
  compgen -G "$KAFKA_LIB_DIR/kafka_2.13-*.jar" >/dev/null ||
    die "Maven ran but no kafka_2.13 jar is in $KAFKA_LIB_DIR"
  printf '%s\n' "$want" >"$LIB_MARKER"
  exec 9>&-
  say "jars fetched in $(elapsed_since "$t_fetch")"
}

check_java() {
  command -v "$JAVA" >/dev/null || die "Java ('$JAVA') not found; Kafka 4 needs Java 17+"
  local version major
  version="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${version%%.*}"
  if [[ $major =~ ^[0-9]+$ ]] && ((major < 17)); then
    die "Kafka 4 needs Java 17+, but '$JAVA' is $version (set JAVA=/path/to/java)"
  fi
}

# "4.4.0", from the kafka_2.13-<version>.jar name in lib/.
kafka_version() {
  local jar
  for jar in "$KAFKA_LIB_DIR"/kafka_2.13-*.jar; do
    jar="${jar##*/kafka_2.13-}"
    printf '%s\n' "${jar%.jar}"
    return 0
  done
}

# Fills server.properties.in into $KAFKA_PROPS_FILE.
write_properties() {
  local text
  text="$(<"$KAFKA_PROPERTIES_TEMPLATE")"
  # Quoted replacements: '&' and '\' in paths stay literal.
  text="${text//@KAFKA_PORT@/"$KAFKA_PORT"}"
  text="${text//@KAFKA_CONTROLLER_PORT@/"$KAFKA_CONTROLLER_PORT"}"
  text="${text//@KAFKA_LOG_DIR@/"$KAFKA_LOG_DIR"}"
  printf '%s\n' "$text" >"$KAFKA_PROPS_FILE"
}

# Formats the KRaft storage once (meta.properties present = formatted).
format_storage() {
  [[ -f $KAFKA_LOG_DIR/meta.properties ]] && return 0
  local cluster_id
  cluster_id="$("$JAVA" "${tool_opts[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.tools.StorageTool random-uuid)" ||
    die "kafka.tools.StorageTool random-uuid failed"
  say "formatting $KAFKA_LOG_DIR (cluster id $cluster_id)"
  local scram=()
  [[ -z $KAFKA_FORMAT_ADD_SCRAM ]] || scram=(--add-scram "$KAFKA_FORMAT_ADD_SCRAM")
  "$JAVA" "${tool_opts[@]}" -cp "$KAFKA_LIB_DIR/*" kafka.tools.StorageTool \
    format -t "$cluster_id" -c "$KAFKA_PROPS_FILE" "${scram[@]}" </dev/null >"$KAFKA_DATA_DIR/format.log" 2>&1 || {
    cat "$KAFKA_DATA_DIR/format.log" >&2
    die "formatting the Kafka storage failed"
  }
}

# --- already running? ----------------------------------------------------

# One kafka-up.sh at a time per data dir: a second one waits here, then
# finds the broker the first one started.
mkdir -p "$KAFKA_DATA_DIR"
exec 8>>"$KAFKA_DATA_DIR/.up.lock"
if command -v flock >/dev/null; then
  flock -w 600 8 || die "another kafka-up.sh holds $KAFKA_DATA_DIR/.up.lock"
fi

pid="$(running_pid)"
if [[ -n $pid ]]; then
  if speaks_kafka "$KAFKA_PORT"; then
    say "kafka already running on 127.0.0.1:$KAFKA_PORT (pid $pid)"
    exit 0
  fi
  say "kafka (pid $pid) is still starting on 127.0.0.1:$KAFKA_PORT; waiting ..."
  wait_until_ready "$pid"
  say "kafka ready on 127.0.0.1:$KAFKA_PORT (pid $pid) after waiting $(elapsed_since "$t0")"
  exit 0
fi

if port_open "$KAFKA_PORT"; then
  if speaks_kafka "$KAFKA_PORT"; then
    say "kafka already running on 127.0.0.1:$KAFKA_PORT, but not started by" \
      "this script for $KAFKA_DATA_DIR (no live pid file); using it as is"
    exit 0
  fi
  die "127.0.0.1:$KAFKA_PORT is taken by something that does not speak Kafka;" \
    "free the port or pick another with KAFKA_PORT=..."
fi
if port_open "$KAFKA_CONTROLLER_PORT"; then
  die "controller port 127.0.0.1:$KAFKA_CONTROLLER_PORT is already in use;" \
    "pick another with KAFKA_CONTROLLER_PORT=..."
fi

# --- start ----------------------------------------------------------------

check_java
fetch_jars
mkdir -p "$KAFKA_LOG_DIR"

log4j_opt=("-Dlog4j2.configurationFile=$KAFKA_DEPLOY_DIR/log4j2.xml")
tool_opts=(-XX:TieredStopAtLevel=1 "${log4j_opt[@]}")
write_properties
format_storage

read -r -a heap_opts <<<"$KAFKA_HEAP"
read -r -a extra_opts <<<"$KAFKA_OPTS"
jvm_opts=(
  "${heap_opts[@]}"
  -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true
  "${log4j_opt[@]}"
  "${extra_opts[@]}"
)

# Keep the previous run's log for post-mortems; the readiness check greps
# only this run's log.
if [[ -f $KAFKA_LOG_FILE ]]; then
  mv -f "$KAFKA_LOG_FILE" "$KAFKA_LOG_FILE.prev"
fi

# Own session (setsid) and immune to SIGHUP (nohup), so the broker outlives
# this script and its terminal; no stdin, all output in broker.log.
launcher=(nohup)
if command -v setsid >/dev/null; then
  launcher=(setsid nohup)
fi
"${launcher[@]}" "$JAVA" "${jvm_opts[@]}" -cp "$KAFKA_LIB_DIR/*" \
  kafka.Kafka "$KAFKA_PROPS_FILE" </dev/null >"$KAFKA_LOG_FILE" 2>&1 8>&- 9>&- &
pid=$!
# Until the child has exec'd java, its command line is still this script's:
# wait for that before recording the pid (kafka-down.sh matches on it).
for _ in {1..100}; do
  is_our_broker "$pid" && break
  kill -0 "$pid" 2>/dev/null || fail_with_log "could not start $JAVA (pid $pid exited)"
  sleep 0.1
done
is_our_broker "$pid" || fail_with_log "pid $pid did not turn into the Kafka broker"
printf '%s\n' "$pid" >"$KAFKA_PID_FILE"
say "starting kafka on 127.0.0.1:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT, pid $pid, log $KAFKA_LOG_FILE) ..."

wait_until_ready "$pid"
say "kafka $(kafka_version) started on 127.0.0.1:$KAFKA_PORT in $(elapsed_since "$t0") (pid $pid)"
