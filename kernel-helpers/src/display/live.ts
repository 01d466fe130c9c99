import { randomBytes } from "node:crypto";
import { renderChart, VEGALITE_MIME, type ChartData } from "./chart.js";
import { displayBundle, inKernel } from "./kernel.js";

export interface LiveChart {
  /** Re-render with new data, replacing the chart in place. */
  update(data: ChartData): Promise<void>;
  /** How many times it was drawn. */
  readonly renders: number;
}

/**
 * A chart that redraws in place as its data changes (a Jupyter display with an id, updated by
 * later messages) — for watching gold tables fill while a stream runs. Outside a kernel it prints
 * one line per update, so scripts and logs stay readable.
 */
export function liveChart(spec: Record<string, unknown>): LiveChart {
  const id = randomBytes(8).toString("hex");
  const title = typeof spec["title"] === "string" ? spec["title"] : "chart";
  let renders = 0;
  return {
    get renders() {
      return renders;
    },
    async update(data: ChartData) {
      const points = Array.isArray(data) ? data.length : (data as { numRows: number }).numRows;
      if (!inKernel()) {
        renders++;
        console.log(`[live chart: ${title}, update ${renders}, ${points} point(s)]`);
        return;
      }
      const chart = await renderChart(spec, data);
      displayBundle(
        { "image/svg+xml": chart.svg, [VEGALITE_MIME]: chart.spec, "text/plain": `[live chart: ${title}]` },
        { displayId: id, update: renders > 0 },
      );
      renders++;
    },
  };
}
