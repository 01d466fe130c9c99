import { createRequire } from "node:module";

/**
 * The bridge to the tslab kernel. tslab's public `display` sends one MIME type per output;
 * a chart wants one output carrying both the static SVG (for nbconvert/HTML) and the vega-lite
 * spec (for JupyterLab's interactive renderer), so we call the function tslab's own `display`
 * calls, with a full MIME bundle. Outside a kernel (tests, scripts) `inKernel()` is false.
 */
type WriteDisplayData = (msg: { data: Record<string, unknown>; metadata: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => void;

const require = createRequire(import.meta.url);

function writer(): WriteDisplayData | undefined {
  try {
    const jupyter = require("tslab/dist/jupyter.js") as { lastWriteDisplayData?: WriteDisplayData | null };
    return jupyter.lastWriteDisplayData ?? undefined;
  } catch {
    return undefined;
  }
}

export function inKernel(): boolean {
  return writer() !== undefined;
}

/** Show a MIME bundle. With a displayId, later calls with `update` replace it in place. */
export function displayBundle(data: Record<string, unknown>, options: { displayId?: string; update?: boolean } = {}): boolean {
  const write = writer();
  if (!write) return false;
  write({ data, metadata: {}, transient: options.displayId ? { display_id: options.displayId } : {} }, options.update ?? false);
  return true;
}
