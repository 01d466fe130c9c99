/**
 * The trainee's path in a real browser, shared by the native hub's browser test and the compose stack's: Playwright
 * drives Debian's Chromium (/usr/bin/chromium; Playwright never downloads a browser here) to the hub's login page,
 * into JupyterLab, opens a notebook on the TypeScript kernel, runs a cell that draws a vega-lite chart with
 * showChart, and sees it rendered. Screenshots go to `artifacts` (under out/, git-ignored) for a person to look at.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import type { Hub } from "./hub-support.js";

const CHROMIUM = process.env["DATAFLOW_CHROMIUM"] ?? "/usr/bin/chromium";

/** A one-cell notebook that draws a bar chart. */
export const CHART_NOTEBOOK = {
  cells: [{
    id: "chart", cell_type: "code", metadata: {}, outputs: [], execution_count: null,
    source: [
      'import { showChart } from "@dataflow-lab/kernel-helpers";\n',
      "await showChart({ title: \"Orders per region\", mark: \"bar\", width: 320,\n",
      "  encoding: { x: { field: \"region\", type: \"nominal\" }, y: { field: \"orders\", type: \"quantitative\" } } },\n",
      "  [{ region: \"north\", orders: 12 }, { region: \"south\", orders: 7 }, { region: \"east\", orders: 15 }]);",
    ],
  }],
  metadata: {
    kernelspec: { display_name: "TypeScript", language: "typescript", name: "tslab" },
    language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
  },
  nbformat: 4, nbformat_minor: 5,
};

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (as root: apt-get install -y chromium; scripts/test.sh does it when it runs as root), or set DATAFLOW_CHROMIUM.`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine notes' flags: no sandbox as root, and no background calls to Google's hosts (closed network).
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Log in as `user` with the workshop password, wait for JupyterLab, let `prepare` put the notebook in place if the
 * hub did not seed it, then open `notebooks/<notebook>`, run its first cell and check the chart is drawn.
 */
export async function chartInTheBrowser(browser: Browser, hub: Hub, user: string, artifacts: string,
  options: { notebook?: string; prepare?: () => Promise<void> } = {}): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    await page.goto(`${hub.url}/hub/login`);
    await page.fill("#username_input", user);
    await page.fill("#password_input", hub.workshopPassword);
    await page.screenshot({ path: join(artifacts, "1-login.png") });
    await page.click("#login_submit");
    // The hub spawns the server and forwards to JupyterLab.
    await page.waitForURL(new RegExp(`/user/${user}/lab`), { timeout: 180_000 });
    await options.prepare?.();
    await page.goto(`${hub.url}/user/${user}/lab/tree/notebooks/${options.notebook ?? "chart.ipynb"}`);
    // The status bar names the notebook's kernel once it is started and idle: the TypeScript (tslab) kernel.
    await page.locator(".jp-StatusBar-Widget", { hasText: /TypeScript \| Idle/ }).first().waitFor({ timeout: 120_000 });
    await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content").first().click();
    await page.keyboard.press("Shift+Enter");
    // JupyterLab's vega extension renders the vega-lite bundle (vega-embed: a canvas or an svg.marks element).
    const output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .vega-embed").first();
    await output.waitFor({ timeout: 150_000 });
    const drawing = output.locator("canvas, svg").first();
    await drawing.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(artifacts, "2-chart.png") });
    const box = await drawing.boundingBox();
    assert.ok(box && box.width > 200 && box.height > 150, `the chart is drawn at a real size: ${JSON.stringify(box)}`);
    assert.equal(await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count(), 0);
  } catch (e) {
    await page.screenshot({ path: join(artifacts, "failure.png") }).catch(() => undefined);
    throw new Error(`${(e as Error).message}\n--- hub log ---\n${hub.log().slice(-3000)}`);
  } finally {
    await page.close();
  }
}
