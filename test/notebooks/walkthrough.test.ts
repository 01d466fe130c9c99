/**
 * The walkthrough notebooks executed headless on the tslab kernel, twice on one lab:
 * the first run proves they work from scratch, the second that every step is idempotent
 * (their check cells compare counts with the generator's manifest, so duplicates would fail them).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { embeddedEnv } from "../embedded.js";
import { hasMlflowPython, MLFLOW_PYTHON, readNotebookRunsWithMlflow } from "../integration/support/mlflow-python.js";

const python = ".lab-env/venv/bin/python";
const notebooks = (await readdir("notebooks")).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).sort().map((f) => join("notebooks", f));

interface Output { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown> }
interface Notebook { cells: { cell_type: string; outputs?: Output[] }[] }

function runNotebooks(out: string, labHome: string): void {
  const r = spawnSync(python, ["scripts/run_notebooks.py", "--out", out, "--timeout", "600", ...notebooks], {
    env: embeddedEnv({ DATAFLOW_LAB_HOME: labHome }),
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `notebooks failed:\n${r.stdout}\n${r.stderr}`);
}

test("the tslab kernel is registered in the project's own Jupyter", () => {
  const r = spawnSync(".lab-env/venv/bin/jupyter", ["kernelspec", "list", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const specs = JSON.parse(r.stdout).kernelspecs as Record<string, { resource_dir: string; spec: { argv: string[]; language: string } }>;
  assert.ok(specs["tslab"], `kernels: ${Object.keys(specs).join(", ")}`);
  assert.match(specs["tslab"].resource_dir, /\.lab-env\/venv\//);
  assert.match(specs["tslab"].spec.argv[0]!, /node_modules\/tslab\/bin\/tslab$/);
});

test("every walkthrough notebook runs headless, twice on the same lab, with charts and no errors", { timeout: 20 * 60_000 }, async () => {
  assert.ok(notebooks.length >= 4, `found ${notebooks.join(", ")}`);
  const dir = await mkdtemp(join(tmpdir(), "walkthrough-"));
  try {
    const lab = join(dir, "lab");
    runNotebooks(join(dir, "first"), lab);
    runNotebooks(join(dir, "second"), lab);

    for (const run of ["first", "second"]) {
      const summary = JSON.parse(await readFile(join(dir, run, "summary.json"), "utf8")) as { passed: number; failed: number };
      assert.deepEqual([summary.passed, summary.failed], [notebooks.length, 0], `${run} run: ${JSON.stringify(summary)}`);
    }
    let charts = 0;
    for (const nb of notebooks) {
      const name = nb.split("/").pop()!.replace(".ipynb", "");
      const executed = JSON.parse(await readFile(join(dir, "second", `${name}.ipynb`), "utf8")) as Notebook;
      const outputs = executed.cells.flatMap((c) => c.outputs ?? []);
      assert.equal(outputs.filter((o) => o.output_type === "error" || o.name === "stderr").length, 0, `${name} has error output`);
      const text = outputs.filter((o) => o.output_type === "stream").map((o) => [o.text ?? ""].flat().join("")).join("");
      assert.match(text, /✓/, `${name} ran no check cell`);
      const svgs = outputs.filter((o) => o.data?.["image/svg+xml"]);
      for (const o of svgs) assert.equal(typeof o.data?.["application/vnd.vegalite.v5+json"], "object", "the interactive spec travels as a JSON object");
      charts += svgs.length;
      const html = await readFile(join(dir, "second", `${name}.html`), "utf8");
      // nbconvert embeds each SVG output as a data: image.
      assert.equal((html.match(/src="data:image\/svg\+xml;base64,/g) ?? []).length, svgs.length, `${name}.html shows every chart as SVG`);
    }
    assert.ok(charts >= 6, `expected the walkthrough to draw at least 6 charts, found ${charts}`);

    // The ML notebook's embedded tracking is MLflow's own file-store layout: MLflow's Python client
    // (from the native services' venv, which npm test installs) reads both runs of each notebook run
    // and loads the champion's MLmodel.
    if (!hasMlflowPython()) assert.fail(`MLflow's Python client is missing (${MLFLOW_PYTHON}); run bash scripts/services/up.sh once`);
    const seen = readNotebookRunsWithMlflow(pathToFileURL(join(lab, "mlflow")).href, "dataflow-lab");
    assert.deepEqual(seen.runs.map((r) => `${r.name}:${r.status}`).sort(), ["kmeans-rfm:FINISHED", "kmeans-rfm:FINISHED", "random-forest-churn:FINISHED", "random-forest-churn:FINISHED"]);
    assert.equal(seen.champion.version, "2", "the second run registered version 2 and moved the alias");
    assert.deepEqual(seen.mlmodel.flavors, ["dataflow_lab"]);
    assert.ok(seen.runs.some((r) => r.id === seen.champion.run_id && r.name === "random-forest-churn"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
