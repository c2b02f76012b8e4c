#!/usr/bin/env bash
# Stop the broker started by kafka-sasl-up.sh (same KAFKA_PORT, default 39192).
#   kafka-sasl-down.sh [--wipe]
set -euo pipefail
KAFKA_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export KAFKA_PORT="${KAFKA_PORT:-39192}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$(cd "$KAFKA_DEPLOY_DIR/../.." && pwd)/.run/kafka-sasl-$KAFKA_PORT}"
exec bash "$KAFKA_DEPLOY_DIR/kafka-down.sh" "$@"
