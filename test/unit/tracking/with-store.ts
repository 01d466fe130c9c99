import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openTracking, type Tracking } from "../../../kernel-helpers/src/tracking/index.js";
import { resolveSettings } from "../../../kernel-helpers/src/config/settings.js";

/** An embedded MLflow file store in a fresh lab folder, removed afterwards. */
export async function withStore(work: (tracking: Tracking, root: string) => Promise<void>): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), "tracking-test-"));
  try {
    const settings = resolveSettings({ DATAFLOW_LAB_HOME: home });
    assert.equal(settings.tracking.kind, "mlflow-file-store");
    await work(openTracking(settings), join(home, "mlflow"));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
