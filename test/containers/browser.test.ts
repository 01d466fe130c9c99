/**
 * The trainee's path in a real browser against the compose stack's hub (the image trainers run): log in with the
 * workshop password, JupyterLab opens, a TypeScript notebook draws a vega-lite chart. Screenshots in
 * out/test-artifacts/containers/browser/.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { CHART_NOTEBOOK, chartInTheBrowser, launchChromium } from "../hub/browser-support.js";
import { ROOT, api, login } from "../hub/hub-support.js";
import { containerHub } from "./stack.js";

const hub = containerHub();
const USER = "diego";
let browser: Browser;

before(async () => {
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

test("a trainee logs in to the containerised hub in Chromium, and a TypeScript cell draws its chart", { timeout: 400_000 }, async () => {
  await chartInTheBrowser(browser, hub, USER, join(ROOT, "out", "test-artifacts", "containers", "browser"), {
    // The image seeds the walkthrough notebooks; the one-cell chart notebook is uploaded as a trainee would.
    prepare: async () => {
      const token = await login(hub, USER, hub.workshopPassword);
      const r = await api(hub, token, `/user/${USER}/api/contents/notebooks/chart.ipynb`, {
        method: "PUT", body: JSON.stringify({ type: "notebook", format: "json", content: CHART_NOTEBOOK }),
      });
      assert.ok([200, 201].includes(r.status), `upload chart.ipynb: HTTP ${r.status} ${await r.text()}`);
    },
  });
});
