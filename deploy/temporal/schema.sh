#!/bin/sh
# One-shot (compose service `temporal-schema`, image temporalio/admin-tools): create Temporal's
# two PostgreSQL databases and bring their schemas up to the version the pinned server needs.
#
# Idempotent, so it runs on every `docker compose up`: `create-database` fails harmlessly when
# the database exists, `setup-schema -v 0.0` only adds the schema_version bookkeeping if it is
# missing, and `update-schema` applies just the versioned steps not yet applied. Upgrading the
# Temporal images (same version for server and admin-tools) upgrades the schema here first.
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS (the PostgreSQL host) is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

# temporal-sql-tool reads the password from SQL_PASSWORD: it stays out of `ps` output.
export SQL_PASSWORD="$POSTGRES_PASSWORD"

sql() { # sql DATABASE ARGS...
  db="$1"
  shift
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" \
    -u "$POSTGRES_USER" --db "$db" "$@"
}

. "$(dirname "$0")/wait_for.sh"
wait_for 60 "PostgreSQL at $POSTGRES_SEEDS:$DB_PORT" nc -z "$POSTGRES_SEEDS" "$DB_PORT"

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  dir="$SCHEMA_ROOT/${pair##*:}/versioned"
  echo "== $db (schema from $dir)"
  sql "$db" create-database >/dev/null 2>&1 || echo "database $db exists"
  sql "$db" setup-schema -v 0.0
  # The `versioned` folder itself: pointed at its parent, update-schema finds nothing to do.
  sql "$db" update-schema -d "$dir"
done
echo "Temporal schemas are up to date."
