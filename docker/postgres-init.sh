#!/bin/sh
# Runs once, when the postgres container starts on an empty data volume
# (/docker-entrypoint-initdb.d): one role and one database for Synapse, one for Linli.
# Synapse needs its database in UTF8 with the C collation (Synapse's docs/postgres.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v synapse_password="$SYNAPSE_DB_PASSWORD" -v linli_password="$LINLI_DB_PASSWORD" <<'SQL'
CREATE ROLE synapse LOGIN PASSWORD :'synapse_password';
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
CREATE ROLE linli LOGIN PASSWORD :'linli_password';
CREATE DATABASE linli OWNER linli ENCODING 'UTF8' TEMPLATE template0;
SQL
