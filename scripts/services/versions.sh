# shellcheck shell=bash
# Every version the native service stack installs, in one place. docker/ builds the same MinIO, Kafka,
# MLflow, psycopg2-binary and boto3 (test/services/compose.test.ts fails if they drift).

# MinIO's community edition is source-only and its repository is archived: this pseudo-version is
# its final commit (2026-02-12). It contains RELEASE.2025-10-15T17-29-55Z (the last tag, a security
# fix) plus the PostPolicy tag-enforcement and conditional-put fixes merged after it; the commits
# after those only touch README/docs. (A tag name cannot be used: the module proxy only serves it
# resolved to this form.)
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

# Kafka 4.x: KRaft only (no ZooKeeper code at all), the broker needs Java 17+, which Debian 12
# ships. 4.3.1 is the newest bug-fix release; 4.4.0 is a fresh .0.
KAFKA_VERSION=4.3.1
# Log4j 2 binding for Kafka's SLF4J 1.x logging, as in Kafka's own binary distribution.
KAFKA_LOG4J_VERSION=2.25.4

# MLflow tracking server: 3.17.2 is the newest patch of the newest line that has had one (3.18.0
# is days old); 3.5+ has the host-header/CORS middleware the server flags below rely on. Transitive
# pins: mlflow-constraints.txt. docker/mlflow installs the same three.
MLFLOW_VERSION=3.17.2
# PostgreSQL driver for the backend store (a binary wheel: no compiler or libpq headers needed).
PSYCOPG2_VERSION=2.9.13
# S3 client MLflow's artifact proxy writes to MinIO with; also creates the buckets (s3_buckets.py).
BOTO3_VERSION=1.44.5

# PostgreSQL comes from Debian 12 (bookworm): major version 15, as docker/postgres installs it.
POSTGRES_MAJOR=15

# Validates docker/compose.yml against the compose specification's JSON schema, which this
# release vendors (check_jsonschema/builtin_schemas/vendor/compose-spec.json, refreshed 2026-10).
CHECK_JSONSCHEMA_VERSION=0.39.0
