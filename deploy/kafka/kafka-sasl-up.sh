#!/usr/bin/env bash
# Start a second local KRaft broker whose client listener is SASL_SSL: SCRAM-SHA-512 over TLS
# with a certificate signed by a local CA. For testing authenticated Kafka end to end.
#
# Env: KAFKA_PORT (39192: the broker's own PLAINTEXT listener), KAFKA_CONTROLLER_PORT (+1),
#      KAFKA_SASL_PORT (KAFKA_PORT+2: the SASL_SSL listener clients use),
#      KAFKA_DATA_DIR (<repo>/.run/kafka-sasl-$KAFKA_PORT),
#      KAFKA_SASL_USERNAME (slo-monitor), KAFKA_SASL_PASSWORD (default: a random one, made once).
#
# Writes into $KAFKA_DATA_DIR (mode 700):
#   tls/ca.pem               the CA clients trust (librdkafka ssl.ca.location)
#   sasl-password            the user's password (mode 600)
#   client.properties        every client setting but the password (KEY=VALUE lines)
# Stop it with: KAFKA_DATA_DIR=<same> KAFKA_PORT=<same> deploy/kafka/kafka-down.sh [--wipe]
# (or deploy/kafka/kafka-sasl-down.sh with the same KAFKA_PORT).
set -euo pipefail

KAFKA_DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export KAFKA_PORT="${KAFKA_PORT:-39192}"
export KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}"
export KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-$(cd "$KAFKA_DEPLOY_DIR/../.." && pwd)/.run/kafka-sasl-$KAFKA_PORT}"
KAFKA_SASL_USERNAME="${KAFKA_SASL_USERNAME:-slo-monitor}"

# shellcheck source=kafka-common.sh
source "$KAFKA_DEPLOY_DIR/kafka-common.sh"
check_port_var KAFKA_SASL_PORT "$KAFKA_SASL_PORT"
[[ $KAFKA_SASL_USERNAME =~ ^[A-Za-z0-9._-]+$ ]] || die "KAFKA_SASL_USERNAME may hold only letters, digits, . _ -"
command -v openssl >/dev/null || die "openssl is needed to make the TLS certificates"

umask 077
mkdir -p "$KAFKA_DATA_DIR/tls"
tls="$KAFKA_DATA_DIR/tls"
password_file="$KAFKA_DATA_DIR/sasl-password"

random_secret() {
  openssl rand -hex 24
}

# The SCRAM password: given, or made once and kept (the storage is formatted with it once).
if [[ -n ${KAFKA_SASL_PASSWORD:-} ]]; then
  printf '%s' "$KAFKA_SASL_PASSWORD" >"$password_file"
elif [[ ! -s $password_file ]]; then
  random_secret >"$password_file"
fi
sasl_password="$(<"$password_file")"
[[ $sasl_password =~ ^[A-Za-z0-9._~+-]+$ ]] ||
  die "the SASL password may hold only letters, digits and . _ ~ + - (StorageTool --add-scram syntax)"

# A local CA and a broker certificate for 127.0.0.1 and localhost, made once.
if [[ ! -s $tls/broker.p12 ]]; then
  say "making a local CA and a broker certificate in $tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=slo-monitor test CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/broker.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tls/broker.ext" -out "$tls/broker.pem" 2>/dev/null
  random_secret >"$tls/keystore-password"
  openssl pkcs12 -export -in "$tls/broker.pem" -inkey "$tls/broker.key" -certfile "$tls/ca.pem" \
    -name broker -passout "file:$tls/keystore-password" -out "$tls/broker.p12"
fi

# The properties template with the SASL/TLS values filled in; kafka-up.sh fills the rest.
template="$KAFKA_DATA_DIR/server-sasl.properties.in"
text="$(<"$KAFKA_DEPLOY_DIR/server-sasl.properties.in")"
text="${text//@SASL_PORT@/"$KAFKA_SASL_PORT"}"
text="${text//@TLS_KEYSTORE@/"$tls/broker.p12"}"
text="${text//@TLS_KEYSTORE_PASSWORD@/"$(<"$tls/keystore-password")"}"
printf '%s\n' "$text" >"$template"

cat >"$KAFKA_DATA_DIR/client.properties" <<PROPS
# bootstrap servers: 127.0.0.1:$KAFKA_SASL_PORT (give them as --bootstrap-servers)
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=$KAFKA_SASL_USERNAME
ssl.ca.location=$tls/ca.pem
PROPS

KAFKA_PROPERTIES_TEMPLATE="$template" \
  KAFKA_FORMAT_ADD_SCRAM="SCRAM-SHA-512=[name=$KAFKA_SASL_USERNAME,password=$sasl_password]" \
  bash "$KAFKA_DEPLOY_DIR/kafka-up.sh"
say "SASL_SSL (SCRAM-SHA-512) listener on 127.0.0.1:$KAFKA_SASL_PORT; client settings in" \
  "$KAFKA_DATA_DIR/client.properties, password in $password_file"
