#!/usr/bin/env bash
# Run by the postgres image on the first start of an empty data volume (from
# /docker-entrypoint-initdb.d): the image has created $POSTGRES_USER and $POSTGRES_DB (ducklake,
# the DuckLake catalog); this adds mlflow, MLflow's backend store, owned by the same role.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres --set owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', d, :'owner') FROM unnest(ARRAY['ducklake', 'mlflow']) AS d
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SQL
