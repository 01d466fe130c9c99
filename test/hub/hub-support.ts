/**
 * A real JupyterHub for tests: the hub from .lab-env/hub-venv (scripts/hub/hub-env.sh), configurable-http-proxy
 * from node_modules, and the SAME docker/jupyterhub/jupyterhub_config.py the image uses, with the local
 * spawner selected by DATAFLOW_HUB_SPAWNER=simple. Users log in through the REST API; code runs in their
 * servers' kernels over the Jupyter kernel websocket protocol.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { psql, requireEnv } from "../integration/services.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const HUB_VENV = join(ROOT, ".lab-env", "hub-venv");
export const HUB_CONFIG = join(ROOT, "docker", "jupyterhub", "jupyterhub_config.py");

/** The catalog role the hub gives a trainee (docker/jupyterhub/scoped_credentials.py, catalog_role). */
export function traineeRole(user: string): string {
  return `dataflow_user_${user.replace(/-/g, "_")}`;
}

/** Test clean-up: roles are cluster-wide, so they outlive the test's catalog database; drop them after it. */
export function dropTraineeRoles(users: readonly string[]): void {
  try {
    psql(requireEnv("DATAFLOW_CATALOG_URL"), `DROP ROLE IF EXISTS ${users.map(traineeRole).join(", ")}`);
  } catch (e) {
    console.error(`could not drop the trainee roles ${users.map(traineeRole).join(", ")}: ${(e as Error).message}`);
  }
}

export interface Hub {
  readonly url: string;
  readonly adminPassword: string;
  readonly workshopPassword: string;
  readonly homes: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Start the hub on `port` (proxy API on port+1, hub API on port+81); resolves once /hub/health answers. */
export async function startHub(port: number, extraEnv: Record<string, string> = {}, seedFiles: Record<string, string> = {}): Promise<Hub> {
  const jupyterhub = join(HUB_VENV, "bin", "jupyterhub");
  if (!existsSync(jupyterhub)) throw new Error(`${jupyterhub} is missing: run bash scripts/hub/hub-env.sh (npm test runs it through scripts/setup.sh).`);
  const dir = await mkdtemp(join(tmpdir(), "dataflow-hub-"));
  const homes = join(dir, "homes");
  const seed = join(dir, "seed");
  await mkdir(join(seed, "notebooks"), { recursive: true });
  await writeFile(join(seed, "notebooks", "README.md"), "Starting notebooks\n");
  for (const [name, content] of Object.entries(seedFiles)) await writeFile(join(seed, "notebooks", name), content);
  const adminPassword = randomBytes(12).toString("hex");
  const workshopPassword = randomBytes(12).toString("hex");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${join(HUB_VENV, "bin")}:${process.env["PATH"]}`,
    DATAFLOW_HUB_SPAWNER: "simple",
    DATAFLOW_HUB_HOME_ROOT: homes,
    DATAFLOW_HUB_STATE_DIR: join(dir, "state"),
    DATAFLOW_HUB_SEED_DIR: seed,
    DATAFLOW_HUB_NODE_MODULES: join(ROOT, "node_modules"),
    DATAFLOW_HUB_SINGLEUSER: join(HUB_VENV, "bin", "jupyterhub-singleuser"),
    DATAFLOW_HUB_PROXY_COMMAND: join(ROOT, "node_modules", ".bin", "configurable-http-proxy"),
    DATAFLOW_HUB_BIND_URL: `http://127.0.0.1:${port}`,
    DATAFLOW_HUB_PROXY_API_URL: `http://127.0.0.1:${port + 1}`,
    DATAFLOW_HUB_INTERNAL_URL: `http://127.0.0.1:${port + 81}`,
    DATAFLOW_HUB_ADMIN_USER: "trainer",
    DATAFLOW_HUB_ADMIN_PASSWORD: adminPassword,
    DATAFLOW_HUB_WORKSHOP_PASSWORD: workshopPassword,
    // Jupyter's own dirs inside the test folder: nothing read from or written to ~/.jupyter.
    JUPYTER_CONFIG_DIR: join(dir, "jupyter-config"),
    JUPYTER_DATA_DIR: join(dir, "jupyter-data"),
    JUPYTER_RUNTIME_DIR: join(dir, "jupyter-runtime"),
    JUPYTER_PREFER_ENV_PATH: "1",
    TZ: "UTC",
    ...extraEnv,
  };
  let output = "";
  const child: ChildProcess = spawn(jupyterhub, ["-f", HUB_CONFIG], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout!.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (output += b.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid) {
      // The whole process group: hub, proxy, culler and the users' servers and kernels.
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* already gone */ }
      await new Promise((r) => setTimeout(r, 1500));
      try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
    }
    // Jupyter starts each kernel in a session of its own, so the group kill misses them; they would live on
    // holding our stdout/stderr pipes, and this test process could never exit. Their paths name `dir`.
    spawnSync("pkill", ["-KILL", "-f", dir]);
    child.stdout?.destroy();
    child.stderr?.destroy();
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`jupyterhub exited (${child.exitCode}) before answering:\n${output.slice(-3000)}`);
    }
    try {
      if ((await fetch(`${url}/hub/health`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jupyterhub did not answer ${url}/hub/health within 60 s:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { url, adminPassword, workshopPassword, homes, log: () => output, stop };
}

/** Log in through the REST API: the hub checks the password with its authenticator and returns a token. */
export async function login(hub: Hub, user: string, password: string): Promise<string> {
  const r = await fetch(`${hub.url}/hub/api/users/${user}/tokens`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ auth: { username: user, password }, note: "hub test", expires_in: 3600 }),
  });
  if (!r.ok) throw new Error(`login ${user}: HTTP ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

export async function api(hub: Hub, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${hub.url}${path}`, { ...init, headers: { authorization: `token ${token}`, "content-type": "application/json", ...(init.headers ?? {}) } });
}

/** Start the user's server and wait until the hub reports it ready. */
export async function startServer(hub: Hub, user: string, token: string, timeoutMs = 150_000): Promise<void> {
  const r = await api(hub, token, `/hub/api/users/${user}/server`, { method: "POST" });
  if (![201, 202, 400].includes(r.status)) throw new Error(`start ${user}'s server: HTTP ${r.status} ${await r.text()}\n${hub.log().slice(-4000)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const u = (await (await api(hub, token, `/hub/api/users/${user}`)).json()) as { servers?: Record<string, { ready: boolean }> };
    if (u.servers?.[""]?.ready) return;
    if (Date.now() > deadline) throw new Error(`${user}'s server not ready within ${timeoutMs} ms:\n${hub.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A kernel in a user's server, driven over the Jupyter messaging protocol (kernel websocket). */
export class RemoteKernel {
  private constructor(private readonly ws: WebSocket, readonly id: string, private readonly close_: () => Promise<void>) {}

  /** `path`: the folder (relative to the server's root) the kernel runs in, as for a notebook opened there. */
  static async start(hub: Hub, user: string, token: string, name = "tslab", path?: string): Promise<RemoteKernel> {
    const r = await api(hub, token, `/user/${user}/api/kernels`, { method: "POST", body: JSON.stringify({ name, ...(path ? { path } : {}) }) });
    if (r.status !== 201) throw new Error(`start kernel ${name} for ${user}: HTTP ${r.status} ${await r.text()}`);
    const { id } = (await r.json()) as { id: string };
    const ws = new WebSocket(`${hub.url.replace(/^http/, "ws")}/user/${user}/api/kernels/${id}/channels`, { headers: { authorization: `token ${token}` } });
    await new Promise<void>((ok, fail) => { ws.once("open", () => ok()); ws.once("error", fail); });
    return new RemoteKernel(ws, id, async () => {
      ws.close();
      await api(hub, token, `/user/${user}/api/kernels/${id}`, { method: "DELETE" });
    });
  }

  /** Execute code; resolves with its stdout, stderr and status once the kernel is idle again. */
  execute(code: string, timeoutMs = 120_000): Promise<{ status: string; stdout: string; stderr: string; error: string }> {
    const msgId = randomUUID();
    const out = { status: "", stdout: "", stderr: "", error: "" };
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => { this.ws.off("message", onMessage); fail(new Error(`cell timed out after ${timeoutMs} ms: ${code.slice(0, 80)}\n${JSON.stringify(out)}`)); }, timeoutMs);
      let replied = false;
      let idle = false;
      const onMessage = (data: WebSocket.RawData): void => {
        const m = JSON.parse(data.toString()) as { msg_type: string; parent_header: { msg_id?: string }; content: Record<string, unknown> };
        if (m.parent_header.msg_id !== msgId) return;
        if (m.msg_type === "stream") out[m.content["name"] === "stderr" ? "stderr" : "stdout"] += String(m.content["text"]);
        if (m.msg_type === "error") out.error += `${String(m.content["ename"])}: ${String(m.content["evalue"])}`;
        if (m.msg_type === "execute_reply") { replied = true; out.status = String(m.content["status"]); }
        if (m.msg_type === "status" && m.content["execution_state"] === "idle") idle = true;
        if (replied && idle) { clearTimeout(timer); this.ws.off("message", onMessage); ok(out); }
      };
      this.ws.on("message", onMessage);
      this.ws.send(JSON.stringify({
        header: { msg_id: msgId, msg_type: "execute_request", username: "test", session: randomUUID(), date: new Date().toISOString(), version: "5.3" },
        parent_header: {}, metadata: {}, channel: "shell", buffers: [],
        content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }));
    });
  }

  close(): Promise<void> {
    return this.close_();
  }
}

/**
 * Run a notebook from the user's own server, as a trainee would: read it through the server's contents API, start
 * a tslab kernel in its folder and execute its code cells in order. A cell fails on an error, a non-ok reply or any
 * stderr text (tslab reports a thrown error as stderr, not as an `error` message; scripts/run_notebooks.py applies
 * the same rule). Throws naming the notebook, the cell and what it printed.
 */
export async function runNotebookAs(hub: Hub, user: string, token: string, notebookPath: string, cellTimeoutMs = 300_000): Promise<number> {
  const r = await api(hub, token, `/user/${user}/api/contents/${notebookPath}?content=1`);
  if (!r.ok) throw new Error(`read ${notebookPath} from ${user}'s server: HTTP ${r.status} ${await r.text()}`);
  const notebook = ((await r.json()) as { content: { cells: { cell_type: string; source: string | string[] }[] } }).content;
  const folder = notebookPath.includes("/") ? notebookPath.slice(0, notebookPath.lastIndexOf("/")) : "";
  const kernel = await RemoteKernel.start(hub, user, token, "tslab", folder);
  let executed = 0;
  try {
    for (const [index, cell] of notebook.cells.entries()) {
      if (cell.cell_type !== "code") continue;
      const code = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
      if (!code.trim()) continue;
      const out = await kernel.execute(code, cellTimeoutMs);
      executed++;
      if (out.status !== "ok" || out.stderr || out.error) {
        throw new Error(`${user}: ${notebookPath} cell ${index + 1} failed (status ${out.status}):\n${code.slice(0, 300)}\n--- stderr ---\n`
          + `${out.stderr.slice(-2000)}${out.error}\n--- stdout ---\n${out.stdout.slice(-1500)}`);
      }
    }
  } finally {
    await kernel.close();
  }
  return executed;
}
