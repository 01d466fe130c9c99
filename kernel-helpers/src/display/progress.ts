import { randomBytes } from "node:crypto";
import { displayBundle, inKernel } from "./kernel.js";

export interface Progress {
  /** Set the number of units done so far. */
  update(done: number, note?: string): void;
  /** Mark the work finished. */
  finish(note?: string): void;
}

const WIDTH = 30;

export function formatBar(label: string, done: number, total: number, elapsedS: number, note = ""): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * WIDTH);
  const rate = elapsedS > 0 ? ` ${Math.round(done / elapsedS).toLocaleString("en-US")}/s` : "";
  return `${label} [${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} ${elapsedS.toFixed(1)}s${rate}${note ? ` ${note}` : ""}`;
}

/**
 * A text progress bar. In the notebook it updates in place (one output that changes);
 * outside it prints a line at most every 10%, so logs stay short.
 */
export function progress(label: string, total: number): Progress {
  const started = performance.now();
  const id = randomBytes(8).toString("hex");
  const kernel = inKernel();
  let first = true;
  let lastDecile = -1;
  const show = (done: number, note?: string, force = false) => {
    const text = formatBar(label, done, total, (performance.now() - started) / 1000, note);
    if (kernel) {
      displayBundle({ "text/plain": text }, { displayId: id, update: !first });
      first = false;
      return;
    }
    const decile = Math.floor((total > 0 ? done / total : 1) * 10);
    if (force || decile > lastDecile) {
      lastDecile = decile;
      console.log(text);
    }
  };
  return {
    update: (done, note) => show(done, note),
    finish: (note) => show(total, note ?? "done", true),
  };
}
