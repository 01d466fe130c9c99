import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { withLab } from "../helpers.js";

interface EnginePin { duckdb: string; nodeApi: string; extensions: Record<string, string> }
const pin = JSON.parse(readFileSync("kernel-helpers/duckdb-pin.json", "utf8")) as EnginePin & {
  previous: EnginePin;
};

function assertWheelsMatch(p: EnginePin): void {
  for (const [name, req] of Object.entries(p.extensions)) {
    // duckdb-ext-* wheels (1.4.x) carry a date suffix (==1.4.4.20260205), duckdb-extension-* (1.5.x) none (==1.5.5).
    assert.match(req, new RegExp(`==${p.duckdb.replaceAll(".", "\\.")}(\\.\\d+)?$`), `${name}: ${req} is not built for DuckDB ${p.duckdb}`);
  }
}

test("the DuckDB pin, the npm dependency and the extension wheels name one DuckDB version", () => {
  const pkg = JSON.parse(readFileSync("kernel-helpers/package.json", "utf8")) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies["@duckdb/node-api"], pin.nodeApi, "kernel-helpers/package.json must pin @duckdb/node-api exactly as duckdb-pin.json says");
  assert.ok(pin.nodeApi.startsWith(`${pin.duckdb}-`), `node-api ${pin.nodeApi} is not a build of DuckDB ${pin.duckdb}`);
  assertWheelsMatch(pin);
});

test("the previous engine (migration test only) is pinned the same way", () => {
  const { previous } = pin;
  assert.ok(previous.nodeApi.startsWith(`${previous.duckdb}-`), `node-api ${previous.nodeApi} is not a build of DuckDB ${previous.duckdb}`);
  assertWheelsMatch(previous);
});

test("the running engine is the pinned version and loads DuckLake offline", async () => {
  await withLab(async (lab) => {
    assert.equal((await lab.sql("SELECT version()")).scalar(), `v${pin.duckdb}`);
    const loaded = (await lab.sql("SELECT extension_name FROM duckdb_extensions() WHERE loaded")).column("extension_name");
    assert.ok(loaded.includes("ducklake"), `loaded: ${loaded.join(", ")}`);
  });
});
