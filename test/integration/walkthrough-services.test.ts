/**
 * The walkthrough notebooks, unchanged, on the real services (MinIO + DuckLake in PostgreSQL),
 * then proof that the data is really there, read by clients that are not kernel-helpers:
 * psql for the catalog rows, the AWS SDK for the Parquet objects, a bare DuckDB for their contents,
 * and MLflow's own Python client for what the ML notebook tracked and registered.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { freshCatalogDatabase, psql, rawS3, requireEnv } from "./services.js";
import { readNotebookRunsWithMlflow } from "./support/mlflow-python.js";

test("the walkthrough runs on MinIO + PostgreSQL + Kafka + MLflow, and its tables, objects and models are really there", { timeout: 20 * 60_000 }, async () => {
  const db = freshCatalogDatabase();
  const dir = await mkdtemp(join(tmpdir(), "walkthrough-services-"));
  // The ML notebook's experiment and model names, unique to this run on the shared MLflow server.
  const mlName = `walkthrough-${randomUUID().slice(0, 8)}`;
  try {
    const notebooks = (await readdir("notebooks")).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).sort().map((f) => join("notebooks", f));
    const r = spawnSync(".lab-env/venv/bin/python", ["scripts/run_notebooks.py", "--out", join(dir, "out"), ...notebooks], {
      env: { ...process.env, DATAFLOW_CATALOG_URL: db.url, DATAFLOW_LAB_HOME: join(dir, "lab"), ML_NAME: mlName },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `notebooks failed in services mode:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${notebooks.length} passed, 0 failed`));

    // The catalog, as PostgreSQL holds it.
    const rows = psql(db.url, `SELECT t.table_name, s.path || t.path || f.path, f.record_count
      FROM ducklake_data_file f JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id)
      WHERE s.schema_name = 'gold' AND t.end_snapshot IS NULL AND f.end_snapshot IS NULL ORDER BY 1, 2`)
      .split("\n").map((l) => l.split("|")) as [string, string, string][];
    // Small gold tables (a few dozen rows) are inlined in the catalog (DuckLake 1.0) and have no data file:
    // their presence is read from ducklake_table.
    const tables = new Set(psql(db.url, `SELECT t.table_name FROM ducklake_table t JOIN ducklake_schema s USING (schema_id)
      WHERE s.schema_name = 'gold' AND t.end_snapshot IS NULL`).split("\n"));
    for (const t of ["revenue_by_category_region", "revenue_monthly", "customer_orders", "ml_features"]) assert.ok(tables.has(t), `gold.${t} is in the catalog: ${[...tables].join(", ")}`);

    // Every file the catalog names is an object in the gold bucket (the gold schema's path is the bucket).
    const s3 = rawS3();
    for (const [, path] of rows) {
      assert.match(path, /^s3:\/\/gold\//);
      const key = path.replace(/^s3:\/\/gold\//, "");
      const head = await s3.send(new HeadObjectCommand({ Bucket: "gold", Key: key }));
      assert.ok((head.ContentLength ?? 0) > 0, `s3://gold/${key}`);
    }

    // A bare DuckDB reads those Parquet files from MinIO and finds the rows the catalog counts.
    const ext = resolve(".lab-env/duckdb-extensions");
    const duck = await DuckDBInstance.create(":memory:", { extension_directory: ext });
    const c = await duck.connect();
    const ep = new URL(requireEnv("AWS_ENDPOINT_URL_S3"));
    await c.run("LOAD httpfs");
    await c.run(`CREATE SECRET (TYPE s3, KEY_ID '${requireEnv("AWS_ACCESS_KEY_ID")}', SECRET '${requireEnv("AWS_SECRET_ACCESS_KEY")}', ENDPOINT '${ep.host}', URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')`);
    const orders = rows.filter(([t]) => t === "customer_orders");
    const files = orders.map(([, p]) => `'${p}'`).join(", ");
    const counted = orders.reduce((n, [, , c]) => n + Number(c), 0);
    const read = Number((await c.runAndReadAll(`SELECT count(*) FROM read_parquet([${files}])`)).getRows()[0]![0]);
    assert.equal(read, counted, "the Parquet objects hold the rows the catalog records");
    const manifest = (await import("../../data/samples/manifest.json", { with: { type: "json" } })).default;
    assert.equal(read, manifest.expected.orders.clean, "gold.customer_orders has one row per clean order");
    duck.closeSync();

    // MLflow's own client finds what notebook 06 tracked: two finished runs, their params, metrics,
    // data set, charts and model directories, and the churn model's champion, whose MLmodel it parses.
    const seen = readNotebookRunsWithMlflow(requireEnv("MLFLOW_TRACKING_URI"), mlName);
    assert.deepEqual(seen.runs.map((r) => `${r.name}:${r.status}`).sort(), ["kmeans-rfm:FINISHED", "random-forest-churn:FINISHED"]);
    const churn = seen.runs.find((r) => r.name === "random-forest-churn")!;
    const kmeans = seen.runs.find((r) => r.name === "kmeans-rfm")!;
    assert.equal(churn.params["trees"], "100");
    for (const m of ["accuracy", "precision", "recall", "f1", "roc_auc", "brier", "baseline_brier"]) assert.equal(typeof churn.metrics[m], "number", `metric ${m}`);
    assert.ok(churn.metrics["roc_auc"]! >= 0.65 && churn.metrics["brier"]! < churn.metrics["baseline_brier"]!, JSON.stringify(churn.metrics));
    assert.deepEqual(kmeans.silhouette_steps, [2, 3, 4, 5, 6]);
    for (const r of seen.runs) {
      assert.deepEqual(r.inputs, ["gold.ml_features"]);
      for (const f of ["model/MLmodel", "model/model.json", "model/input_example.json"]) assert.ok(r.artifacts.includes(f), `${r.name} has ${f}: ${r.artifacts.join(", ")}`);
    }
    assert.deepEqual(churn.artifacts.filter((a) => a.startsWith("charts/")), ["charts/confusion_matrix.svg", "charts/feature_importance.svg", "charts/roc_curve.svg"]);
    assert.deepEqual({ ...seen.champion, version: undefined }, { version: undefined, run_id: churn.id, aliases: ["champion"] });
    assert.deepEqual(seen.mlmodel.flavors, ["dataflow_lab"]);
    assert.equal(seen.mlmodel.run_id, churn.id);
    assert.deepEqual(seen.mlmodel.inputs, churn.params["features"]!.split(","));
  } finally {
    db.drop();
    await rm(dir, { recursive: true, force: true });
  }
});
