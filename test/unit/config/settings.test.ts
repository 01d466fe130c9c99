import { test } from "node:test";
import assert from "node:assert/strict";
import { describeSettings, resolveSettings } from "../../../kernel-helpers/src/index.js";
import { redact } from "../../../kernel-helpers/src/config/settings.js";
import { ConfigError } from "../../../kernel-helpers/src/errors.js";

test("with no variables set, every component is embedded under the lab home", () => {
  const s = resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/lab-x" });
  assert.equal(s.home, "/tmp/lab-x");
  assert.deepEqual(s.storage, { kind: "local", root: "/tmp/lab-x" });
  assert.deepEqual(s.catalog, { kind: "duckdb-file", path: "/tmp/lab-x/catalog.ducklake" });
  assert.deepEqual(s.stream, { kind: "landing-folder", path: "/tmp/lab-x/landing" });
  assert.deepEqual(s.tracking, { kind: "mlflow-file-store", path: "/tmp/lab-x/mlflow" });
});

test("standard variables select the services, per component", () => {
  const s = resolveSettings({
    DATAFLOW_LAB_HOME: "/tmp/lab-x",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9000",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9100",
    KAFKA_BOOTSTRAP_SERVERS: "127.0.0.1:9092",
  });
  assert.deepEqual(s.storage, { kind: "s3", endpoint: "http://127.0.0.1:9100", region: "us-east-1" }, "the S3-specific endpoint wins");
  assert.deepEqual(s.stream, { kind: "kafka", bootstrapServers: "127.0.0.1:9092" });
  assert.equal(s.catalog.kind, "duckdb-file", "components without a variable stay embedded");
  assert.equal(s.tracking.kind, "mlflow-file-store");
});

test("an MLflow URI is a server only when it is http(s); a file: URI is the file store", () => {
  assert.deepEqual(resolveSettings({ MLFLOW_TRACKING_URI: "http://127.0.0.1:5000" }).tracking, { kind: "mlflow-server", uri: "http://127.0.0.1:5000" });
  assert.deepEqual(resolveSettings({ MLFLOW_TRACKING_URI: "file:///data/mlruns" }).tracking, { kind: "mlflow-file-store", path: "/data/mlruns" });
});

test("blank variables count as unset", () => {
  const s = resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/lab-x", AWS_ENDPOINT_URL: "  ", KAFKA_BOOTSTRAP_SERVERS: "" });
  assert.equal(s.storage.kind, "local");
  assert.equal(s.stream.kind, "landing-folder");
});

test("inside a checkout the default home is the repository's lab/ folder", () => {
  const s = resolveSettings({}, process.cwd());
  assert.match(s.home, /\/lab$/);
});

test("one line per component, and passwords never printed", () => {
  const lines = describeSettings(resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/l", DATAFLOW_CATALOG_URL: "postgres:dbname=lake password=hunter2 host=x" }));
  assert.equal(lines.length, 4);
  assert.ok(lines.every((l) => !l.includes("hunter2")), lines.join("\n"));
  assert.equal(redact("postgres://u:secret@host/db"), "postgres://u:***@host/db");
});

test("passwords are redacted wherever a connection string is quoted", () => {
  const msg = 'Unable to connect to Postgres at "postgresql://u:s3cr3t@h:1/db": failed; also postgres:dbname=x password=hunter2 host=y';
  const out = redact(msg);
  assert.ok(!out.includes("s3cr3t") && !out.includes("hunter2"), out);
  assert.match(out, /postgresql:\/\/u:\*\*\*@h:1\/db/);
});

test("credentials inside a service URL are refused, and never printed in the refusal", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ AWS_ENDPOINT_URL_S3: "http://KEYID:SECRETVALUE@127.0.0.1:9000" }, /AWS_ENDPOINT_URL_S3 carries credentials[\s\S]*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY[\s\S]*http:\/\/127\.0\.0\.1:9000/],
    [{ AWS_ENDPOINT_URL: "https://KEYID:SECRETVALUE@s3.example" }, /AWS_ENDPOINT_URL carries credentials/],
    [{ MLFLOW_TRACKING_URI: "http://ana:SECRETVALUE@127.0.0.1:5000" }, /MLFLOW_TRACKING_URI carries credentials[\s\S]*MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD/],
  ];
  for (const [env, expected] of cases) {
    assert.throws(() => resolveSettings(env), (e: unknown) => {
      const text = `${(e as Error).message} ${JSON.stringify(e)}`;
      assert.ok(!text.includes("SECRETVALUE"), text);
      assert.match((e as Error).message, expected);
      return (e as Error).name === "ConfigError";
    });
  }
});

test("a service address must be http(s); a tracking server without its scheme is not taken for a folder", () => {
  assert.throws(() => resolveSettings({ AWS_ENDPOINT_URL_S3: "127.0.0.1:9000" }), /AWS_ENDPOINT_URL_S3="127\.0\.0\.1:9000" is not an http:\/\/ or https:\/\/ address/);
  assert.throws(() => resolveSettings({ MLFLOW_TRACKING_URI: "127.0.0.1:5000" }), /looks like a server address without its scheme[\s\S]*http:\/\/127\.0\.0\.1:5000/);
  assert.throws(() => resolveSettings({ MLFLOW_TRACKING_URI: "mlflow:5000/" }), /without its scheme/);
  assert.deepEqual(resolveSettings({ MLFLOW_TRACKING_URI: "./mlruns" }).tracking, { kind: "mlflow-file-store", path: "./mlruns" });
});

test("every configured component's address is printed without its secrets, or refused when it carries them", () => {
  const secret = "SECRETVALUE";
  // Catalog: PostgreSQL's URI and key=value forms, with the password in userinfo or as a parameter.
  for (const url of [`postgresql://lab:${secret}@db:5432/lake`, `postgres:dbname=lake password=${secret} host=db`, `postgresql://db/lake?user=lab&password=${secret}&sslmode=disable`]) {
    const lines = describeSettings(resolveSettings({ DATAFLOW_LAB_HOME: "/tmp/l", DATAFLOW_CATALOG_URL: url }));
    assert.ok(lines.every((l) => !l.includes(secret)), lines.join("\n"));
  }
  // Object storage and MLflow: credentials in userinfo or in a query parameter are refused without being echoed.
  for (const env of [
    { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:9000/?X-Amz-Security-Token=${secret}` },
    { MLFLOW_TRACKING_URI: `https://mlflow.example/?token=${secret}` },
    { KAFKA_BOOTSTRAP_SERVERS: `lab:${secret}@127.0.0.1:9092` },
  ]) {
    assert.throws(() => resolveSettings(env), (e: unknown) => {
      assert.ok(!`${(e as Error).message} ${JSON.stringify(e)}`.includes(secret), (e as Error).message);
      return (e as Error).name === "ConfigError";
    }, JSON.stringify(env).replace(secret, "…"));
  }
  assert.throws(() => resolveSettings({ KAFKA_BOOTSTRAP_SERVERS: "PLAINTEXT://kafka:9092" }), /is not a list of host:port brokers/);
  assert.equal(resolveSettings({ KAFKA_BOOTSTRAP_SERVERS: "kafka:9092, 127.0.0.1:19092" }).stream.kind, "kafka");
});

test("DuckDB's memory limit is 2GB unless DATAFLOW_MEMORY_LIMIT says otherwise; a value that is not an amount is refused", () => {
  assert.equal(resolveSettings({}).memoryLimit, "2GB");
  assert.equal(resolveSettings({ DATAFLOW_MEMORY_LIMIT: " 6gb " }).memoryLimit, "6GB");
  assert.equal(resolveSettings({ DATAFLOW_MEMORY_LIMIT: "1.5GiB" }).memoryLimit, "1.5GiB");
  for (const bad of ["lots", "4", "-1GB", "0GB", "4 GB; DROP TABLE x"]) {
    assert.throws(() => resolveSettings({ DATAFLOW_MEMORY_LIMIT: bad }),
      (e: unknown) => e instanceof ConfigError && e.message.includes("DATAFLOW_MEMORY_LIMIT") && /e\.g\. DATAFLOW_MEMORY_LIMIT=4GB/.test(e.fix ?? ""), bad);
  }
});
