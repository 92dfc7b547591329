#!/bin/sh
# One-shot (compose service `temporal-setup`, image temporalio/admin-tools): wait for the
# Temporal server, create the product's namespace, and register the search attributes that
# journeys set (infra/temporal.py SEARCH_ATTRIBUTES). Idempotent: it only adds what is
# missing, so it runs on every `docker compose up`.
#
# Works against any Temporal the `temporal` CLI can reach: TEMPORAL_ADDRESS and
# TEMPORAL_NAMESPACE come from .env, the CLI reads TEMPORAL_TLS and TEMPORAL_API_KEY itself,
# and the product's TEMPORAL_TLS_*_PATH settings are handed on below. (On Temporal Cloud the
# namespace is created in the Cloud console; the search attributes are still added here.)
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-2160h}"

# The product's mTLS settings, under the names the `temporal` CLI reads.
if [ -n "${TEMPORAL_TLS_CERT_PATH:-}" ]; then
  export TEMPORAL_TLS_CLIENT_CERT_PATH="$TEMPORAL_TLS_CERT_PATH"
fi
if [ -n "${TEMPORAL_TLS_KEY_PATH:-}" ]; then
  export TEMPORAL_TLS_CLIENT_KEY_PATH="$TEMPORAL_TLS_KEY_PATH"
fi
if [ -n "${TEMPORAL_TLS_CA_PATH:-}" ]; then
  export TEMPORAL_TLS_SERVER_CA_CERT_PATH="$TEMPORAL_TLS_CA_PATH"
fi

# name:type, as the server calls the types. Keep in step with infra/temporal.py
# (tests/production/test_compose.py checks that every attribute there is listed here).
SEARCH_ATTRIBUTES="
InvoiceId:Keyword
CustomerId:Keyword
JourneyPhase:Keyword
Segment:Keyword
AmountDue:Double
NextActionAt:Datetime
Tenant:Keyword
"

echo "Waiting for Temporal at $TEMPORAL_ADDRESS ..."
. "$(dirname "$0")/wait_for.sh"
wait_for 120 "Temporal at $TEMPORAL_ADDRESS" temporal operator cluster health --address "$TEMPORAL_ADDRESS"

if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  echo "creating namespace $NAMESPACE (retention $RETENTION)"
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi

# A new namespace reaches every server role within seconds; retry until attributes stick.
for entry in $SEARCH_ATTRIBUTES; do
  name="${entry%%:*}"
  kind="${entry##*:}"
  tries=0
  until temporal operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null \
      | grep -qE "^[[:space:]]*$name[[:space:]]"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 30 ]; then
      echo "could not register search attribute $name ($kind) in $NAMESPACE" >&2
      exit 1
    fi
    temporal operator search-attribute create --namespace "$NAMESPACE" \
      --name "$name" --type "$kind" >/dev/null 2>&1 || sleep 2
  done
  echo "search attribute $name ($kind) registered"
done
echo "Temporal namespace $NAMESPACE is ready for journeys."
