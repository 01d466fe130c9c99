import * as arrow from "apache-arrow";
import type * as Vega from "vega";
import type { TopLevelSpec } from "vega-lite";
import { QueryResult, toJsonValue, type JsonValue } from "../catalog/result.js";
import { displayBundle } from "./kernel.js";
import { LabError, messageOf } from "../errors.js";

/** JupyterLab 4 renders this MIME type interactively; nbconvert's HTML falls back to the SVG. */
export const VEGALITE_MIME = "application/vnd.vegalite.v5+json";

export type ChartData = QueryResult | arrow.Table | readonly object[];

export interface RenderedChart {
  readonly svg: string;
  /** The vega-lite spec with the data inlined: a JSON object, as JupyterLab's renderer wants. */
  readonly spec: Record<string, unknown>;
}

function values(data: ChartData): Record<string, JsonValue>[] {
  if (data instanceof QueryResult) return data.rows();
  if (data instanceof arrow.Table) {
    return data.toArray().map((row) => {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(row.toJSON() as Record<string, unknown>)) out[k] = toJsonValue(v);
      return out;
    });
  }
  return data.map((row) => Object.fromEntries(Object.entries(row as Record<string, unknown>).map(([k, v]) => [k, toJsonValue(v)])));
}

/** Compile a vega-lite spec (data inlined from `data` when given) and render it to SVG in the kernel. */
export async function renderChart(spec: Record<string, unknown>, data?: ChartData): Promise<RenderedChart> {
  const full: Record<string, unknown> = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    ...(data ? { data: { values: values(data) } } : {}),
    ...spec,
  };
  // Loaded on first use: vega's ESM graph has a top-level await, which the CommonJS cells of tslab cannot require().
  const [vega, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  let vegaSpec: Vega.Spec;
  try {
    // vega tags every datum it ingests; compile a copy so the returned spec stays plain JSON.
    vegaSpec = compile(structuredClone(full) as unknown as TopLevelSpec).spec;
  } catch (e) {
    throw new LabError(`The chart spec could not be compiled by vega-lite (${messageOf(e)}); spec: ${JSON.stringify(spec).slice(0, 200)}`, {
      fix: "Check mark and encoding against the vega-lite documentation; field names must be columns of the data.",
      cause: e,
    });
  }
  const view = new vega.View(vega.parse(vegaSpec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return { svg, spec: full };
  } finally {
    view.finalize();
  }
}

/**
 * Render and show a chart: one output with the static SVG and the interactive spec.
 * Returns nothing on purpose: tslab prints a cell's last value, and an SVG dump is noise.
 */
export async function showChart(spec: Record<string, unknown>, data?: ChartData): Promise<void> {
  const chart = await renderChart(spec, data);
  const title = typeof spec["title"] === "string" ? spec["title"] : "chart";
  if (!displayBundle({ "image/svg+xml": chart.svg, [VEGALITE_MIME]: chart.spec, "text/plain": `[vega-lite chart: ${title}]` })) {
    console.log(`[vega-lite chart: ${title}, ${chart.svg.length} bytes of SVG]`);
  }
}
