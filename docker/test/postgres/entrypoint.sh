#!/bin/bash
# Entry point of the PostgreSQL stand-in (tests/docker). The parts of the official image's
# contract (docker-entrypoint.sh in docker-library/postgres) that compose.yaml relies on:
# POSTGRES_PASSWORD (required), POSTGRES_USER (postgres), POSTGRES_DB (the user's name),
# PGDATA, PGPORT; on an empty PGDATA a new cluster whose TCP connections need a password
# (scram-sha-256), then each file of /docker-entrypoint-initdb.d in order against a server
# reachable on its socket only (*.sh run when executable, sourced otherwise; *.sql through
# psql); then the server itself, as the postgres user, listening on every address.
set -Eeuo pipefail

if [ "${1:0:1}" = "-" ]; then
    set -- postgres "$@"
fi
if [ "$1" != "postgres" ]; then
    exec "$@"
fi

export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGPORT="${PGPORT:-5432}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    exec gosu postgres "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "the database is not initialised and POSTGRES_PASSWORD is empty: set it" >&2
        exit 1
    fi
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p $PGPORT" start >/dev/null
    export PGPASSWORD="$POSTGRES_PASSWORD"
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
            *.sql)
                psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
            *) [ -e "$f" ] && echo "ignoring $f" ;;
        esac
    done
    unset PGPASSWORD
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "database initialised"
fi

exec "$@" -c listen_addresses='*' -p "$PGPORT"
