#!/usr/bin/env bash
# Stop the local Kafka broker started by kafka-up.sh (by its recorded pid).
#
#   kafka-down.sh [--wipe]
#
# --wipe (or KAFKA_WIPE=1) also deletes $KAFKA_DATA_DIR (topics, offsets, logs).
# Env: KAFKA_PORT (9092), KAFKA_DATA_DIR (<repo>/.run/kafka-$KAFKA_PORT),
#      KAFKA_STOP_TIMEOUT (30 s before SIGKILL).
set -euo pipefail

KAFKA_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=kafka-common.sh
source "$KAFKA_DEPLOY_DIR/kafka-common.sh"

KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
wipe="${KAFKA_WIPE:-0}"

for arg in "$@"; do
  case $arg in
    --wipe) wipe=1 ;;
    -h | --help)
      sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument '$arg' (usage: kafka-down.sh [--wipe])" ;;
  esac
done

pid="$(running_pid)"
if [[ -n $pid ]]; then
  t0="$(now_ms)"
  say "stopping kafka on 127.0.0.1:$KAFKA_PORT (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while is_our_broker "$pid" && ((SECONDS < deadline)); do
    sleep 0.2
  done
  if is_our_broker "$pid"; then
    say "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while is_our_broker "$pid" && ((SECONDS < deadline)); do
      sleep 0.2
    done
  fi
  rm -f "$KAFKA_PID_FILE"
  say "kafka stopped in $(elapsed_since "$t0")"
else
  say "kafka not running for $KAFKA_DATA_DIR (nothing to stop)"
  if port_open "$KAFKA_PORT"; then
    say "note: something not started by kafka-up.sh for this data dir" \
      "listens on 127.0.0.1:$KAFKA_PORT; left alone"
  fi
fi

if [[ $wipe == 1 ]]; then
  if [[ ! -e $KAFKA_DATA_DIR ]]; then
    say "nothing to wipe: $KAFKA_DATA_DIR does not exist"
  elif [[ -f $KAFKA_DATA_DIR/server.properties || -f $KAFKA_DATA_DIR/.up.lock ]]; then
    rm -rf -- "$KAFKA_DATA_DIR"
    say "wiped $KAFKA_DATA_DIR"
  else
    die "refusing to wipe $KAFKA_DATA_DIR: it does not look like a kafka-up.sh data dir"
  fi
fi
