import { test } from "node:test";
import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { withLab } from "../helpers.js";

test("results are JSON-safe: BIGINT and DECIMAL become numbers, dates ISO strings", async () => {
  await withLab(async (lab) => {
    const r = await lab.sql("SELECT 42::BIGINT AS b, 12.50::DECIMAL(10,2) AS d, DATE '2024-03-05' AS day, NULL::VARCHAR AS n, 'x' AS s");
    assert.deepEqual(r.rows(), [{ b: 42, d: 12.5, day: "2024-03-05T00:00:00.000Z", n: null, s: "x" }]);
    assert.equal(r.scalar(), 42);
    assert.equal(r.number(), 42);
    assert.deepEqual(r.columns.map((c) => c.type), ["BIGINT", "DECIMAL(10,2)", "DATE", "VARCHAR", "VARCHAR"]);
  });
});

test("a BIGINT beyond 2^53 is kept exact as a string rather than rounded", async () => {
  await withLab(async (lab) => {
    assert.equal((await lab.sql("SELECT 9007199254740993::BIGINT")).scalar(), "9007199254740993");
  });
});

test("toArrow builds typed columns", async () => {
  await withLab(async (lab) => {
    const r = await lab.sql("SELECT range AS i, range * 1.5 AS x, 'r' || range AS s, range % 2 = 0 AS even FROM range(1000)");
    const t = r.toArrow();
    assert.equal(t.numRows, 1000);
    assert.ok(t.schema.fields[0]!.type instanceof arrow.Int64);
    assert.ok(t.schema.fields[1]!.type instanceof arrow.Float64);
    assert.ok(t.schema.fields[2]!.type instanceof arrow.Utf8);
    assert.ok(t.schema.fields[3]!.type instanceof arrow.Bool);
    assert.equal(t.getChild("x")!.get(10), 15);
    assert.equal(t.getChild("s")!.get(999), "r999");
  });
});

test("an empty result has its columns and no rows", async () => {
  await withLab(async (lab) => {
    const r = await lab.sql("SELECT 1 AS a WHERE false");
    assert.equal(r.numRows, 0);
    assert.deepEqual(r.column("a"), []);
    assert.equal(r.scalar(), null);
    assert.equal(r.toArrow().numRows, 0);
  });
});
