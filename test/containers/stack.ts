/**
 * The compose stack as the suite runs it (scripts/docker/test-stack.sh, started by scripts/test.sh): the
 * unchanged docker/compose.yml as project dataflow-lab-test on non-default ports, with a generated env file.
 * Tests drive it with the real `docker compose` CLI and reach the services through their published ports.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Hub } from "../hub/hub-support.js";

function requireStackEnv(): string {
  const file = process.env["DATAFLOW_TEST_STACK_ENV"];
  if (!file || !process.env["DOCKER_HOST"] || !process.env["COMPOSE_PROJECT_NAME"]) {
    throw new Error("the compose stack's variables are not set: run the container tests through `npm test`, which starts the engine "
      + "and the stack (scripts/docker/engine.sh, scripts/docker/test-stack.sh) and exports them; on a machine with no engine, "
      + "DATAFLOW_SKIP_CONTAINER_TESTS=1 skips them (never in CI).");
  }
  return file;
}

/** The generated env file compose reads: credentials and host ports of the suite's stack. */
export const STACK: Readonly<Record<string, string>> = Object.fromEntries(
  readFileSync(requireStackEnv(), "utf8").split("\n")
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

export interface Run { status: number | null; stdout: string; stderr: string }

/**
 * `docker compose ARGS` on the suite's project (COMPOSE_PROJECT_NAME, COMPOSE_FILE, COMPOSE_ENV_FILES from
 * test-stack.sh). The variables the env file sets are taken out of compose's environment: the shell's would
 * override the file's, and the suite's shell holds the native stack's AWS keys.
 */
export function compose(args: readonly string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Run {
  const env: Record<string, string | undefined> = { ...process.env, COMPOSE_ANSI: "never", COMPOSE_PROGRESS: "plain" };
  for (const key of Object.keys(STACK)) delete env[key];
  const r = spawnSync("docker", ["compose", ...args], {
    encoding: "utf8", input: options.input, timeout: options.timeoutMs ?? 10 * 60_000, maxBuffer: 256 * 1024 * 1024,
    env: { ...env, ...options.env },
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: `${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

/** Like compose(), but throws with the command's output when it fails. */
export function composeOk(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): string {
  const r = compose(args, options);
  if (r.status !== 0) throw new Error(`docker compose ${args.join(" ")} exited ${r.status}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

export interface ContainerState { Service: string; State: string; Health: string; ExitCode: number; Image: string }

/** Every container of the project, running or exited. */
export function containers(): ContainerState[] {
  const out = composeOk(["ps", "-a", "--format", "json"]).trim();
  // compose prints one JSON object per line (older releases: one array).
  return out.startsWith("[") ? (JSON.parse(out) as ContainerState[]) : out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as ContainerState);
}

export function serviceLog(service: string, tail = 60): string {
  return compose(["logs", "--no-color", "--tail", String(tail), service]).stdout;
}

/** Wait until `service` reports healthy; on time-out, throw with its log tail. */
export async function waitHealthy(service: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = containers().find((c) => c.Service === service);
    if (state?.Health === "healthy") return;
    if (Date.now() > deadline) throw new Error(`${service} not healthy after ${timeoutMs} ms (${state?.State}/${state?.Health}):\n${serviceLog(service)}`);
    await sleep(1000);
  }
}

/** The services as the host reaches them (published ports), with the hub's own (root) credentials. */
export function hostServices(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${STACK["DATAFLOW_S3_PORT"]}`,
    AWS_ENDPOINT_URL: `http://127.0.0.1:${STACK["DATAFLOW_S3_PORT"]}`,
    AWS_ACCESS_KEY_ID: STACK["AWS_ACCESS_KEY_ID"]!,
    AWS_SECRET_ACCESS_KEY: STACK["AWS_SECRET_ACCESS_KEY"]!,
    AWS_REGION: "us-east-1",
    KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${STACK["DATAFLOW_KAFKA_PORT"]}`,
    MLFLOW_TRACKING_URI: `http://127.0.0.1:${STACK["DATAFLOW_MLFLOW_PORT"]}`,
    DATAFLOW_CATALOG_URL: `postgresql://${STACK["POSTGRES_USER"]}:${STACK["POSTGRES_PASSWORD"]}@127.0.0.1:${STACK["DATAFLOW_POSTGRES_PORT"]}/ducklake`,
  };
}

/** The containerised hub, seen through the same interface as the native test hub (test/hub/hub-support.ts). */
export function containerHub(): Hub {
  return {
    url: `http://127.0.0.1:${STACK["DATAFLOW_HUB_PORT"]}`,
    adminPassword: STACK["DATAFLOW_HUB_ADMIN_PASSWORD"]!,
    workshopPassword: STACK["DATAFLOW_HUB_WORKSHOP_PASSWORD"]!,
    homes: "/home",
    log: () => serviceLog("jupyterhub", 200),
    // The stack outlives each test file: scripts/test.sh takes it down at the end of the run.
    stop: async () => undefined,
  };
}

/** Run a shell script in the running hub container as root (`docker compose exec`). */
export function hubShell(script: string, timeoutMs = 10 * 60_000): Run {
  return compose(["exec", "-T", "jupyterhub", "bash", "-euo", "pipefail", "-c", script], { timeoutMs });
}
