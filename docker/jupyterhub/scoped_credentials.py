"""Credentials scoped to one trainee, issued by the hub when their server starts.

The hub holds the services' owner credentials (MinIO root keys, the catalog database's owner); a trainee's
server never sees them. Instead it gets
  - temporary S3 keys from MinIO's STS AssumeRole with a session policy that allows only the trainee's own
    prefix, users/<user>/, in the lab's buckets (the lake's files are under silver/users/<user>/lake/);
  - a PostgreSQL login role that owns the trainee's DuckLake metadata schema ducklake_<user> and nothing else.
So even with the raw AWS SDK or raw SQL, a trainee cannot read or overwrite another trainee's data.

The names (users/<user>/, ducklake_<user>) are the ones kernel-helpers derives from JUPYTERHUB_USER:
kernel-helpers/src/config/settings.ts, userNamespace().
"""
import json
import secrets
from datetime import datetime, timedelta, timezone

# The buckets a trainee's lab writes to (kernel-helpers BUCKETS minus mlflow: artifacts go through the
# MLflow server, which has its own keys).
LAB_BUCKETS = ("bronze", "silver", "gold")
# Same rule as kernel-helpers' USER_PATTERN (and the hub's username_pattern): the name becomes an S3 prefix, a
# PostgreSQL schema and a role name, so nothing that could escape either is accepted.
USER_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"


class CredentialError(RuntimeError):
    """The hub could not issue a trainee's credentials; the message names the service and the fix."""


def key_prefix(user: str) -> str:
    return f"users/{user}/"


def metadata_schema(user: str) -> str:
    # Same mapping as kernel-helpers' userNamespace(): user names have no "_", so "-" -> "_" stays one-to-one.
    return "ducklake_" + user.replace("-", "_")


def catalog_role(user: str) -> str:
    return "dataflow_user_" + user.replace("-", "_")


def s3_session_policy(user: str, buckets=LAB_BUCKETS) -> dict:
    """An IAM policy for users/<user>/* only. AssumeRole intersects it with the caller's (root) policy."""
    prefix = key_prefix(user)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                           "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                "Resource": [f"arn:aws:s3:::{b}/{prefix}*" for b in buckets],
            },
            {
                # Listing only with the own prefix: a listing of the bucket root would show other trainees' keys.
                "Sid": "ListOwnPrefix",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            },
            {
                # Bucket names and settings are the lab's, not a trainee's data (notebook 01 shows them).
                "Sid": "SeeTheLabsBuckets",
                "Effect": "Allow",
                "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
                "Resource": ["arn:aws:s3:::*"],
            },
        ],
    }


def issue_s3_credentials(user: str, endpoint: str, region: str, access_key: str, secret_key: str, hours: float) -> dict:
    """Temporary keys for the trainee's prefix, as the environment variables the AWS SDK and DuckDB read."""
    # MinIO's own SDK: its AssumeRoleProvider signs the STS call (boto3 would also do, but its botocore pins
    # python-dateutil < 3, which the lab's Jupyter pins exclude).
    from minio.credentials import AssumeRoleProvider

    provider = AssumeRoleProvider(sts_endpoint=endpoint, access_key=access_key, secret_key=secret_key, region=region,
                                  duration_seconds=int(hours * 3600), policy=json.dumps(s3_session_policy(user)),
                                  role_session_name=f"dataflow-{user}")
    try:
        creds = provider.retrieve()
    except Exception as e:  # the SDK raises ValueError for STS errors and urllib3's errors for the network
        raise CredentialError(f"MinIO at {endpoint} did not issue scoped credentials for {user} (STS AssumeRole): {e}. "
                              "Check that the hub's AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are MinIO's root keys "
                              "(MINIO_ROOT_USER / MINIO_ROOT_PASSWORD).") from e
    return {"AWS_ACCESS_KEY_ID": creds.access_key, "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_SESSION_TOKEN": creds.session_token}


def issue_catalog_credentials(user: str, owner_url: str, hours: float) -> str:
    """A login role owning only the trainee's metadata schema; returns the trainee's DATAFLOW_CATALOG_URL.

    Idempotent: every start gives the role a new password (valid as long as the S3 keys), so an old server's
    password stops working once a new one is issued.
    """
    import psycopg  # psycopg 3: parameters and identifiers are quoted by the driver, not by string formatting.
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    role, schema = catalog_role(user), metadata_schema(user)
    password = secrets.token_hex(24)
    until = (datetime.now(timezone.utc) + timedelta(hours=hours)).isoformat()
    try:
        with psycopg.connect(owner_url, connect_timeout=10, autocommit=False) as conn, conn.cursor() as cur:
            # Serialise concurrent spawns: CREATE ROLE IF NOT EXISTS does not exist, and two first logins race.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('dataflow-lab-catalog-roles'))")
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = sql.SQL("ALTER") if cur.fetchone() else sql.SQL("CREATE")
            # psycopg sends utility statements without server-side parameters, so literals are bound client-side.
            # (SUPERUSER, REPLICATION, BYPASSRLS default to off, and only a superuser may even name them.)
            cur.execute(sql.SQL("{} ROLE {} WITH LOGIN NOCREATEDB NOCREATEROLE CONNECTION LIMIT 20 PASSWORD {} VALID UNTIL {}").format(
                verb, sql.Identifier(role), sql.Literal(password), sql.Literal(until)))
            # PostgreSQL 15 lets a CREATEROLE owner hand a schema to a role only when it is a member of it.
            cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(sql.Identifier(schema), sql.Identifier(role)))
            # A schema made before scoped credentials (or squatted) gets the right owner, with what is in it.
            cur.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
            cur.execute("""SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) <> %s""",
                        (schema, role))
            for name, kind in cur.fetchall():
                what = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
                cur.execute(sql.SQL("ALTER {} {}.{} OWNER TO {}").format(sql.SQL(what), sql.Identifier(schema), sql.Identifier(name), sql.Identifier(role)))
            cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(schema)))
            # PostgreSQL 15 already denies CREATE in public to PUBLIC; say it, for databases made by older versions.
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    except psycopg.Error as e:
        where = conninfo_to_dict(owner_url)
        raise CredentialError(f"PostgreSQL at {where.get('host')}:{where.get('port', 5432)}/{where.get('dbname')} did not set up "
                              f"the catalog role {role} for {user}: {str(e).strip()}. The hub's DATAFLOW_CATALOG_URL must be the "
                              "catalog database's owner with CREATEROLE (scripts/services/postgres.sh and compose's "
                              "POSTGRES_USER have it).") from e
    return make_conninfo(owner_url, user=role, password=password)


def main(argv) -> int:
    """Print the credentials a trainee's server would get, as JSON, from the hub's environment.

    For tests (test/hub/) and for a trainer reproducing a trainee's problem outside the hub:
        python docker/jupyterhub/scoped_credentials.py <user> [hours]
    """
    import os
    import re
    import sys

    if len(argv) not in (2, 3) or not re.match(USER_PATTERN, argv[1]):
        print("usage: scoped_credentials.py <user> [hours]   (user: lower-case letter, then up to 31 of a-z 0-9 -)", file=sys.stderr)
        return 2
    user, hours = argv[1], float(argv[2]) if len(argv) == 3 else 1.0
    missing = [k for k in ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATAFLOW_CATALOG_URL") if not os.environ.get(k)]
    if missing:
        print(f"scoped_credentials.py: set {', '.join(missing)} (the hub's environment; native services: "
              "source .lab-env/services/services.env)", file=sys.stderr)
        return 2
    try:
        env = issue_s3_credentials(user, os.environ["AWS_ENDPOINT_URL_S3"], os.environ.get("AWS_REGION", "us-east-1"),
                                   os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], hours)
        env["DATAFLOW_CATALOG_URL"] = issue_catalog_credentials(user, os.environ["DATAFLOW_CATALOG_URL"], hours)
    except CredentialError as e:
        print(f"scoped_credentials.py: {e}", file=sys.stderr)
        return 1
    env["DATAFLOW_LAB_USER"] = user
    print(json.dumps(env))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv))
