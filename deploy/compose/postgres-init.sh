#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d): one role and one database per service,
# with the passwords the init service wrote (/secrets/postgres/<service>).
set -eu
for s in ingest validation notification crawler; do
  pw=$(cat "/secrets/postgres/$s")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE nianbao_$s LOGIN PASSWORD '$pw';
CREATE DATABASE $s OWNER nianbao_$s;
REVOKE ALL ON DATABASE $s FROM PUBLIC;
SQL
done
