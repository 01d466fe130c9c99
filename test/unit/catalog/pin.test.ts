import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { withLab } from "../helpers.js";

const pin = JSON.parse(readFileSync("kernel-helpers/duckdb-pin.json", "utf8")) as {
  duckdb: string; nodeApi: string; extensions: Record<string, string>;
};

test("the DuckDB pin, the npm dependency and the extension wheels name one DuckDB version", () => {
  const pkg = JSON.parse(readFileSync("kernel-helpers/package.json", "utf8")) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies["@duckdb/node-api"], pin.nodeApi, "kernel-helpers/package.json must pin @duckdb/node-api exactly as duckdb-pin.json says");
  assert.ok(pin.nodeApi.startsWith(`${pin.duckdb}-`), `node-api ${pin.nodeApi} is not a build of DuckDB ${pin.duckdb}`);
  for (const [name, req] of Object.entries(pin.extensions)) {
    assert.match(req, new RegExp(`==${pin.duckdb.replaceAll(".", "\\.")}\\.`), `${name}: ${req} is not built for DuckDB ${pin.duckdb}`);
  }
});

test("the running engine is the pinned version and loads DuckLake offline", async () => {
  await withLab(async (lab) => {
    assert.equal((await lab.sql("SELECT version()")).scalar(), `v${pin.duckdb}`);
    const loaded = (await lab.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded")).column("extension_name");
    assert.ok(loaded.includes("ducklake"), `loaded: ${loaded.join(", ")}`);
  });
});
