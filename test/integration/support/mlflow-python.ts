/**
 * MLflow's own Python client, from the venv the native services install
 * (scripts/services/mlflow.sh): an independent reader of what kernel-helpers wrote.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const MLFLOW_PYTHON = resolve(import.meta.dirname, "../../../.lab-env/services/mlflow-venv/bin/python");

export function hasMlflowPython(): boolean {
  return existsSync(MLFLOW_PYTHON);
}

/**
 * Everything MlflowClient reads back about one run and one registered model's alias, as JSON.
 * argv: tracking URI, experiment name, run id, model name, alias.
 */
const READ_BACK = String.raw`
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient
uri, exp_name, run_id, model, alias = sys.argv[1:6]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
e = c.get_experiment_by_name(exp_name)
r = c.get_run(run_id)
def walk(path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out += walk(f.path) if f.is_dir else [f.path]
    return out
dst = tempfile.mkdtemp()
mv = c.get_model_version_by_alias(model, alias)
model_dir = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model}@{alias}", dst_path=os.path.join(dst, "model"))
print(json.dumps({
    "experiment": {"id": e.experiment_id, "name": e.name},
    "run": {"id": r.info.run_id, "name": r.info.run_name, "status": r.info.status, "experiment_id": r.info.experiment_id, "end_time": r.info.end_time},
    "runs_in_experiment": [x.info.run_id for x in c.search_runs([e.experiment_id])],
    "params": r.data.params,
    "metrics": r.data.metrics,
    "tags": {k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.") or k == "mlflow.runName"},
    "loss_history": [[m.step, m.value] for m in sorted(c.get_metric_history(run_id, "loss"), key=lambda m: m.step)],
    "inputs": [{"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type, "tags": {t.key: t.value for t in d.tags}} for d in r.inputs.dataset_inputs],
    "artifacts": sorted(walk()),
    "notes": open(c.download_artifacts(run_id, "notes.txt", dst)).read(),
    "model_version": {"version": str(mv.version), "run_id": mv.run_id, "aliases": list(mv.aliases), "source": mv.source},
    "model_files": sorted(os.listdir(model_dir)),
}))
`;

export interface ReadBack {
  experiment: { id: string; name: string };
  run: { id: string; name: string; status: string; experiment_id: string; end_time: number | null };
  runs_in_experiment: string[];
  params: Record<string, string>;
  metrics: Record<string, number>;
  tags: Record<string, string>;
  loss_history: [number, number][];
  inputs: { name: string; digest: string; source_type: string; tags: Record<string, string> }[];
  artifacts: string[];
  notes: string;
  model_version: { version: string; run_id: string; aliases: string[]; source: string };
  model_files: string[];
}

/** Let MLflow itself write a small store: experiment "made-by-mlflow", one run, model "m" with alias "champion". */
export function writeWithMlflow(root: string): { runId: string } {
  const script = String.raw`
import sys
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
uri = sys.argv[1]
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
e = c.create_experiment("made-by-mlflow", artifact_location=uri + "/" + "a" * 100)
r = c.create_run(e, run_name="py", tags={"who": "python"})
c.log_batch(r.info.run_id, metrics=[Metric("acc", 0.5, 1, 0), Metric("acc", 0.75, 2, 1)], params=[Param("k", "v")], tags=[RunTag("x", "y")])
c.set_terminated(r.info.run_id)
c.create_registered_model("m")
mv = c.create_model_version("m", r.info.artifact_uri + "/model", run_id=r.info.run_id)
c.set_registered_model_alias("m", "champion", mv.version)
print(r.info.run_id)
`;
  return { runId: runPython(script, [pathToFileURL(root).href]).trim().split("\n").pop()! };
}

function runPython(script: string, args: string[]): string {
  // A scratch cwd: MLflow 3 may create an mlflow.db next to wherever it runs.
  const cwd = mkdtempSync(join(tmpdir(), "mlflow-python-"));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, MLFLOW_ALLOW_FILE_STORE: "true" };
    delete env["MLFLOW_TRACKING_URI"];
    const r = spawnSync(MLFLOW_PYTHON, ["-c", script, ...args], { cwd, env, encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) throw new Error(`MLflow's Python client failed (exit ${r.status}):\n${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

export function readBackWithMlflow(trackingUri: string, experiment: string, runId: string, model: string, alias: string): ReadBack {
  const out = runPython(READ_BACK, [trackingUri, experiment, runId, model, alias]);
  return JSON.parse(out.trim().split("\n").pop()!) as ReadBack;
}

/**
 * What notebook 06 left on the server, as MLflow's client sees it: the experiment's runs with their
 * params, metrics, inputs and artifacts, the churn model's champion version, and its MLmodel parsed
 * by MLflow's own Model.load (flavor and input signature). argv: tracking URI, name prefix.
 */
const NOTEBOOK_READ_BACK = String.raw`
import json, os, sys, tempfile
import mlflow
from mlflow import MlflowClient
from mlflow.models import Model
uri, name = sys.argv[1:3]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
c = MlflowClient(tracking_uri=uri, registry_uri=uri)
e = c.get_experiment_by_name(name + "-customers")
def walk(run_id, path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out += walk(run_id, f.path) if f.is_dir else [f.path]
    return out
runs = [{
    "id": r.info.run_id, "name": r.info.run_name, "status": r.info.status, "params": r.data.params, "metrics": r.data.metrics,
    "inputs": [d.dataset.name for d in r.inputs.dataset_inputs], "artifacts": sorted(walk(r.info.run_id)),
    "silhouette_steps": sorted(m.step for m in c.get_metric_history(r.info.run_id, "silhouette")),
} for r in c.search_runs([e.experiment_id])]
mv = c.get_model_version_by_alias(name + "-churn", "champion")
dst = tempfile.mkdtemp()
model_dir = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}-churn@champion", dst_path=os.path.join(dst, "model"))
m = Model.load(model_dir)
print(json.dumps({
    "runs": runs,
    "champion": {"version": str(mv.version), "run_id": mv.run_id, "aliases": list(mv.aliases)},
    "mlmodel": {"flavors": sorted(m.flavors), "inputs": m.signature.inputs.input_names(), "run_id": m.run_id},
}))
`;

export interface NotebookReadBack {
  runs: { id: string; name: string; status: string; params: Record<string, string>; metrics: Record<string, number>; inputs: string[]; artifacts: string[]; silhouette_steps: number[] }[];
  champion: { version: string; run_id: string; aliases: string[] };
  mlmodel: { flavors: string[]; inputs: string[]; run_id: string };
}

export function readNotebookRunsWithMlflow(trackingUri: string, name: string): NotebookReadBack {
  const out = runPython(NOTEBOOK_READ_BACK, [trackingUri, name]);
  return JSON.parse(out.trim().split("\n").pop()!) as NotebookReadBack;
}
