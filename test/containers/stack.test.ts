/**
 * The compose stack the suite started (scripts/docker/test-stack.sh): every service of docker/compose.yml built
 * from a Dockerfile in docker/ on the Debian base the suite bootstrapped, every long-running one healthy, every
 * one-shot job done; and the workshop image is what it says it is.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STACK, compose, composeOk, containers, hubShell } from "./stack.js";

interface ConfigService { image?: string; build?: { context?: string; dockerfile?: string }; restart?: string }
const config = JSON.parse(composeOk(["config", "--format", "json"])) as { services: Record<string, ConfigService> };

function imageLayers(image: string): string[] {
  const r = spawnSync("docker", ["image", "inspect", "--format", "{{json .RootFS.Layers}}", image], { encoding: "utf8" });
  assert.equal(r.status, 0, `docker image inspect ${image}: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

test("every service of docker/compose.yml runs an image built here from a Dockerfile in docker/, FROM the base the suite made", () => {
  const baseLayers = imageLayers(STACK["DATAFLOW_BASE_IMAGE"]!);
  for (const [name, service] of Object.entries(config.services)) {
    assert.ok(service.build, `service ${name} has a build section (no image is pulled)`);
    const dockerfile = `${service.build.context}/${service.build.dockerfile ?? "Dockerfile"}`;
    assert.match(dockerfile, /\/docker\/[a-z]+\/Dockerfile$/, `service ${name} builds ${dockerfile}`);
    assert.match(service.image ?? "", /^dataflow-lab\/[a-z]+:\S+$/, `service ${name} tags its image as the lab's own`);
    // The base's filesystem is the image's first layer: BASE_IMAGE reached the build.
    assert.deepEqual(imageLayers(service.image!).slice(0, baseLayers.length), baseLayers, `${service.image} is built FROM ${STACK["DATAFLOW_BASE_IMAGE"]}`);
  }
});

test("every long-running service is healthy and every one-shot job exited 0", () => {
  const states = containers();
  for (const [name, service] of Object.entries(config.services)) {
    const c = states.find((s) => s.Service === name);
    assert.ok(c, `service ${name} has a container`);
    if (service.restart === "no") {
      assert.equal(c.State, "exited", `one-shot ${name}`);
      assert.equal(c.ExitCode, 0, `one-shot ${name} exit code`);
    } else {
      assert.equal(c.State, "running", `service ${name}`);
      assert.equal(c.Health, "healthy", `service ${name} health`);
    }
  }
});

test("the hub image runs a maintained Node LTS and offers tslab as its one kernel", () => {
  const r = hubShell("node --version && jupyter kernelspec list --json");
  assert.equal(r.status, 0, r.stderr);
  const [node, ...json] = r.stdout.trim().split("\n");
  assert.match(node!, /^v(22|24)\./, `Node in the image: ${node}`);
  const specs = (JSON.parse(json.join("\n")) as { kernelspecs: Record<string, { spec: { display_name: string; language: string } }> }).kernelspecs;
  assert.deepEqual(Object.keys(specs), ["tslab"], "only the TypeScript kernel");
  assert.equal(specs["tslab"]!.spec.language, "typescript");
});

test("ports are published on 127.0.0.1 only", () => {
  const r = spawnSync("docker", ["ps", "--filter", `label=com.docker.compose.project=${process.env["COMPOSE_PROJECT_NAME"]}`, "--format", "{{.Names}} {{.Ports}}"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const published = r.stdout.split("\n").flatMap((line) => [...line.matchAll(/([0-9.:[\]]+):\d+->/g)].map((m) => `${line.split(" ")[0]} ${m[1]}`));
  assert.ok(published.length >= 6, `published ports: ${r.stdout}`);
  for (const p of published) assert.match(p, / 127\.0\.0\.1$/, `published beyond loopback: ${p}`);
});

test("compose refuses to start while a required value of the env file is missing or empty, naming it", () => {
  const dir = mkdtempSync(join(tmpdir(), "stack-env-"));
  try {
    const lines = readFileSync(process.env["DATAFLOW_TEST_STACK_ENV"]!, "utf8").split("\n");
    for (const [name, change] of [["POSTGRES_PASSWORD", "drop"], ["DATAFLOW_HUB_WORKSHOP_PASSWORD", "empty"], ["AWS_SECRET_ACCESS_KEY", "empty"]] as const) {
      const file = join(dir, `${name}.env`);
      writeFileSync(file, lines.flatMap((l) => (l.startsWith(`${name}=`) ? (change === "drop" ? [] : [`${name}=`]) : [l])).join("\n"));
      const r = compose(["config", "--quiet"], { env: { COMPOSE_ENV_FILES: file } });
      assert.notEqual(r.status, 0, `compose accepted an env file with ${name} ${change === "drop" ? "missing" : "empty"}`);
      assert.match(r.stderr, new RegExp(`set ${name} in docker/\\.env`), r.stderr);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
