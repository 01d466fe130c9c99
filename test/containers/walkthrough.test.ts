/**
 * Every walkthrough notebook, executed headless inside the workshop image (as jupyter/docker-stacks tests its
 * images): a throw-away container of the hub's image, a trainee-like user seeded as the hub seeds homes, the
 * embedded default (no services in the environment), nbclient on the tslab kernel through scripts/run_notebooks.py
 * (a cell fails on an error or any stderr text). Executed notebooks and HTML in out/test-artifacts/containers/walkthrough/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../hub/hub-support.js";
import { compose } from "./stack.js";

const OUT = join(ROOT, "out", "test-artifacts", "containers", "walkthrough");

// As the hub's pre-spawn hook does for a trainee (jupyterhub_config.py: seed_home), then the notebooks as that
// user with only what a server's environment holds: no AWS, catalog, Kafka or MLflow variables.
const SCRIPT = String.raw`
useradd --create-home --shell /bin/bash walker
cp -a "$DATAFLOW_HUB_SEED_DIR/." /home/walker/
ln -s "$DATAFLOW_HUB_NODE_MODULES" /home/walker/node_modules
chown -R walker:walker /home/walker /out
cd /home/walker
runuser -u walker -- env -i PATH="$PATH" HOME=/home/walker TZ=UTC \
  DATAFLOW_DUCKDB_EXTENSIONS="$DATAFLOW_DUCKDB_EXTENSIONS" DATAFLOW_JUPYTER_VENV="$DATAFLOW_JUPYTER_VENV" \
  DATAFLOW_LAB_HOME=/home/walker/dataflow-lab \
  python /opt/dataflow-lab/scripts/run_notebooks.py --out /out notebooks/[0-9][0-9]_*.ipynb
`;

test("every walkthrough notebook runs headless inside the hub image on the tslab kernel (embedded default)", { timeout: 20 * 60_000 }, () => {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const r = compose(["run", "--rm", "--no-deps", "-T", "--volume", `${OUT}:/out`, "--entrypoint", "bash", "jupyterhub", "-euo", "pipefail", "-c", SCRIPT], { timeoutMs: 19 * 60_000 });
  assert.equal(r.status, 0, `the walkthrough failed inside the image:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  // Every notebook the image was seeded with: the repository's own, as the image copies them.
  const notebooks = readdirSync(join(ROOT, "notebooks")).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).length;
  assert.match(r.stdout, new RegExp(`\\b${notebooks} passed, 0 failed\\b`));
});
