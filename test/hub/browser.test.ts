/**
 * The trainee's path in a real browser against the native hub (test/hub/browser-support.ts): log in, open a
 * TypeScript notebook in JupyterLab, run a showChart cell, see the chart. test/containers/browser.test.ts does the
 * same against the compose stack's hub. Screenshots in out/test-artifacts/hub/.
 */
import { after, before, test } from "node:test";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { CHART_NOTEBOOK, chartInTheBrowser, launchChromium } from "./browser-support.js";
import { ROOT, startHub, type Hub } from "./hub-support.js";

let hub: Hub;
let browser: Browser;

before(async () => {
  // Embedded mode is enough here: the browser test is about the hub and JupyterLab, not the services.
  const embedded = Object.fromEntries(["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "DATAFLOW_CATALOG_URL"].map((k) => [k, ""]));
  hub = await startHub(18200, embedded, { "chart.ipynb": JSON.stringify(CHART_NOTEBOOK, null, 1) });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await hub?.stop();
});

test("a trainee logs in, opens a TypeScript notebook in JupyterLab and sees the vega-lite chart a cell draws", { timeout: 300_000 }, async () => {
  await chartInTheBrowser(browser, hub, "carol", join(ROOT, "out", "test-artifacts", "hub"));
});
