import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { formatBar, liveChart, renderChart, renderTable, renderText, VEGALITE_MIME } from "../../../kernel-helpers/src/index.js";
import { withLab } from "../helpers.js";

test("HTML tables escape values, right-align numbers and say when rows are cut", async () => {
  await withLab(async (lab) => {
    const r = await lab.sql("SELECT range AS n, '<b>' || range || '</b>' AS s FROM range(30)");
    const html = renderTable(r, { limit: 5, title: "T & U" });
    assert.ok(!html.includes("<b>0</b>"), "values are escaped");
    assert.match(html, /&#60;b&#62;0&#60;\/b&#62;/);
    assert.match(html, /text-align:right">4</);
    assert.match(html, /showing 5 of 30 rows/);
    assert.match(html, /T &#38; U/);
    assert.equal((html.match(/<tr>/g) ?? []).length, 6, "header + 5 rows");
  });
});

test("tables render from Arrow tables and plain rows alike", async () => {
  await withLab(async (lab) => {
    const arrowTable = (await lab.sql("SELECT 1 AS a, 'x' AS b")).toArrow();
    assert.match(renderText(arrowTable), /a\s+b/);
    assert.match(renderTable([{ a: 1n, b: null }]), /<td style="color:#999">NULL<\/td>/);
  });
});

test("a vega-lite chart renders to SVG in-process, with the data inlined in the spec", async () => {
  await withLab(async (lab) => {
    const data = await lab.sql("SELECT * FROM (VALUES ('a', 3::BIGINT), ('b', 5::BIGINT)) t(k, v)");
    const chart = await renderChart({ mark: "bar", encoding: { x: { field: "k", type: "nominal" }, y: { field: "v", type: "quantitative" } } }, data);
    assert.match(chart.svg, /^<svg/);
    const marks = /<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)<\/g>/.exec(chart.svg)?.[1] ?? "";
    assert.equal((marks.match(/<path/g) ?? []).length, 2, "one bar per row");
    assert.deepEqual((chart.spec["data"] as { values: unknown[] }).values, [{ k: "a", v: 3 }, { k: "b", v: 5 }]);
  });
});

test("an invalid chart spec fails with vega-lite's message", async () => {
  await assert.rejects(renderChart({ mark: "nonsense" }), /chart spec.*nonsense/is);
});

test("the progress bar shows fraction, counts and rate", () => {
  const s = formatBar("load", 50, 200, 2);
  assert.match(s, /^load \[█{8}░{22}\]  25% 50\/200 2\.0s 25\/s$/);
});

test("a live chart replaces itself in place: one display id, first a new display, then updates", async () => {
  const require = createRequire(import.meta.url);
  const jupyter = require("tslab/dist/jupyter.js") as { lastWriteDisplayData: unknown };
  const sent: { data: Record<string, unknown>; transient: { display_id?: string }; update: boolean }[] = [];
  const saved = jupyter.lastWriteDisplayData;
  jupyter.lastWriteDisplayData = (msg: { data: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => sent.push({ ...msg, update });
  try {
    const chart = liveChart({ title: "revenue", mark: "bar", encoding: { x: { field: "m", type: "nominal" }, y: { field: "v", type: "quantitative" } } });
    await chart.update([{ m: "10:01", v: 1 }]);
    await chart.update([{ m: "10:01", v: 1 }, { m: "10:02", v: 3 }]);
    assert.equal(sent.length, 2);
    assert.deepEqual(sent.map((s) => s.update), [false, true]);
    assert.ok(sent[0]!.transient.display_id && sent[0]!.transient.display_id === sent[1]!.transient.display_id);
    assert.match(String(sent[1]!.data["image/svg+xml"]), /<svg/);
    assert.equal((sent[1]!.data[VEGALITE_MIME] as { data: { values: unknown[] } }).data.values.length, 2);
  } finally {
    jupyter.lastWriteDisplayData = saved;
  }
});
