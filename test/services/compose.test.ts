// docker/compose.yml, checked without a Docker engine: against the compose specification's JSON
// schema (scripts/services/compose-check.sh, which installs the pinned check-jsonschema that ships
// the schema), and against the lab's own rules: pinned images, loopback-only ports, healthchecks,
// credentials only from docker/.env, and the same versions as the native stack.
//
//   node --import tsx --test test/services/compose.test.ts
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dockerDir = path.join(root, "docker");
const composeFile = path.join(dockerDir, "compose.yml");
const checker = path.join(root, "scripts/services/compose-check.sh");

type Environment = Record<string, string | number | boolean | null> | string[];
type DependsOn = string[] | Record<string, { condition?: string }>;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Environment;
  ports?: (string | { host_ip?: string; published?: string | number })[];
  volumes?: (string | { type?: string; source?: string; read_only?: boolean })[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
  depends_on?: DependsOn;
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function runChecker(args: string[]) {
  const r = spawnSync("bash", [checker, ...args], { encoding: "utf8", timeout: 10 * 60_000 });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

// The file as compose reads it before interpolation: YAML merge keys resolved, ${VAR} as written.
function loadCompose(): Compose {
  const r = spawnSync("bash", [checker, "--json", composeFile], { encoding: "utf8", timeout: 10 * 60_000 });
  assert.equal(r.status, 0, `compose-check.sh --json failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Compose;
}

const compose = loadCompose();
const services = Object.entries(compose.services);
const rawCompose = readFileSync(composeFile, "utf8");
const envExample = readFileSync(path.join(dockerDir, ".env.example"), "utf8");

function versionPin(name: string): string {
  const m = new RegExp(`^${name}=(\\S+)$`, "m").exec(readFileSync(path.join(root, "scripts/services/versions.sh"), "utf8"));
  assert.ok(m?.[1], `scripts/services/versions.sh does not set ${name}`);
  return m[1];
}

function imageTag(image: string): string | undefined {
  const lastPart = image.slice(image.lastIndexOf("/") + 1);
  const colon = lastPart.indexOf(":");
  return colon < 0 ? undefined : lastPart.slice(colon + 1);
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((line) => [line.split("=")[0] ?? line, line.slice(line.indexOf("=") + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? "")]));
}

function dependencies(service: Service): [string, string | undefined][] {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? deps.map((d) => [d, undefined]) : Object.entries(deps).map(([d, v]) => [d, v.condition]);
}

// Services that run once and exit (bucket and topic set-up), as opposed to long-running servers.
const oneShot = (service: Service) => service.restart === "no";

function dockerfilesOf(service: Service): string[] {
  if (service.build === undefined) return [];
  const context = typeof service.build === "string" ? service.build : (service.build.context ?? ".");
  const dockerfile = typeof service.build === "string" ? "Dockerfile" : (service.build.dockerfile ?? "Dockerfile");
  return [path.resolve(dockerDir, context, dockerfile)];
}

test("docker/compose.yml is valid against the compose specification's JSON schema", () => {
  const { status, out } = runChecker([composeFile]);
  assert.equal(status, 0, `schema validation failed:\n${out}`);
});

test("the schema check really rejects an invalid compose file", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "compose-check-"));
  try {
    const bad = path.join(dir, "compose.yml");
    writeFileSync(bad, "services:\n  broken:\n    image: 42\n    ports: not-a-list\n    no_such_key: true\n");
    const { status, out } = runChecker([bad]);
    assert.notEqual(status, 0, `an invalid file passed validation:\n${out}`);
    assert.match(out, /no_such_key/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function dockerDebianSuite(): string {
  const m = /^DEBIAN_SUITE=(\S+)$/m.exec(readFileSync(path.join(root, "scripts/docker/versions.sh"), "utf8"));
  assert.ok(m?.[1], "scripts/docker/versions.sh does not set DEBIAN_SUITE");
  return m[1];
}

test("every service is built from a Dockerfile in docker/ FROM the BASE_IMAGE argument (official Debian by default), with a pinned name", () => {
  const suite = dockerDebianSuite();
  for (const [name, service] of services) {
    assert.ok(service.image, `service ${name} has no image: name (built images get a pinned name too)`);
    const tag = imageTag(service.image);
    assert.ok(tag && tag !== "latest", `service ${name}: image ${service.image} is not pinned to a version tag`);
    assert.match(service.image, /^dataflow-lab\//, `service ${name}: ${service.image} is not one of the lab's own images`);
    // MinIO's Docker Hub namespace was withdrawn in September 2026: nothing may name it again.
    assert.doesNotMatch(service.image, /^(docker\.io\/)?minio\//, `service ${name} names a withdrawn MinIO repository`);
    const [dockerfile] = dockerfilesOf(service);
    assert.ok(dockerfile, `service ${name} has no build: section (every image is built from docker/)`);
    assert.ok(dockerfile.startsWith(`${dockerDir}/`) && existsSync(dockerfile), `service ${name}: ${dockerfile} is not a Dockerfile in docker/`);
    const text = readFileSync(dockerfile, "utf8");
    assert.match(text, new RegExp(`^ARG BASE_IMAGE=debian:${suite}-slim$`, "m"), `${dockerfile}: BASE_IMAGE defaults to debian:${suite}-slim`);
    const stages: string[] = [];
    for (const [, from = "", stage] of text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
      assert.ok(from === "${BASE_IMAGE}" || stages.includes(from), `${dockerfile}: FROM ${from} is neither \${BASE_IMAGE} nor an earlier stage`);
      if (stage) stages.push(stage);
    }
    const args = (typeof service.build === "object" ? (service.build as { args?: Record<string, string> }).args : undefined) ?? {};
    assert.equal(args["BASE_IMAGE"], "${DATAFLOW_BASE_IMAGE:-debian:" + suite + "-slim}", `service ${name} passes BASE_IMAGE through`);
  }
});

test("every published port binds 127.0.0.1 only", () => {
  for (const [name, service] of services) {
    for (const port of service.ports ?? []) {
      if (typeof port === "string") {
        assert.match(port, /^127\.0\.0\.1:(\d+|\$\{DATAFLOW_[A-Z0-9_]+_PORT:-\d+\}):\d+(\/(tcp|udp))?$/, `service ${name}: port "${port}" is not bound to 127.0.0.1`);
      } else {
        assert.equal(port.host_ip, "127.0.0.1", `service ${name}: port ${JSON.stringify(port)} is not bound to 127.0.0.1`);
      }
    }
  }
});

test("every long-running service has a healthcheck, and dependants wait for it", () => {
  for (const [name, service] of services) {
    if (oneShot(service)) continue;
    assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `long-running service ${name} has no healthcheck`);
  }
  for (const [name, service] of services) {
    for (const [dep, condition] of dependencies(service)) {
      const target = compose.services[dep];
      assert.ok(target, `service ${name} depends on unknown service ${dep}`);
      const expected = oneShot(target) ? "service_completed_successfully" : "service_healthy";
      assert.equal(condition, expected, `service ${name} should wait for ${dep} with condition ${expected}`);
    }
  }
});

test("credentials come only from docker/.env: ${VAR:?message} references, no literal values", () => {
  const credentialKey = /(PASSWORD|SECRET|ACCESS_KEY|TOKEN|_USER)$/i;
  const required = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$/;
  for (const [name, service] of services) {
    for (const [key, value] of Object.entries(environmentOf(service))) {
      if (credentialKey.test(key)) {
        assert.match(value, required, `service ${name}: ${key} must be a \${VAR:?message} reference, not "${value}"`);
      }
      // user:password in a URL: each part must be a reference (each stands in as "§" here).
      const userinfo = /:\/\/([^@/\s]*)@/.exec(value.replace(/\$\{[^}]*\}/g, "§"));
      for (const part of userinfo?.[1]?.split(":") ?? []) {
        assert.equal(part, "§", `service ${name}: ${key} embeds a literal credential in a URL`);
      }
    }
  }
  for (const weak of ["minioadmin", "admin123", "changeme", "password123"]) {
    assert.ok(!rawCompose.toLowerCase().includes(weak), `compose.yml contains the default credential "${weak}"`);
  }
});

test("docker/.env.example documents every variable compose.yml reads, with no value filled in", () => {
  const referenced = new Set([...rawCompose.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? ""));
  const lines = envExample.split("\n");
  const declared = new Map<string, { value: string; comment: string }>();
  lines.forEach((line, i) => {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined) declared.set(m[1], { value: m[2] ?? "", comment: lines[i - 1] ?? "" });
  });
  assert.deepEqual([...referenced].sort(), [...declared.keys()].sort(), "variables in compose.yml and docker/.env.example differ");
  for (const [name, { value, comment }] of declared) {
    assert.equal(value, "", `docker/.env.example gives ${name} a value; leave it empty so compose refuses to start until it is set`);
    assert.match(comment, /^#/, `docker/.env.example: ${name} has no comment line above it`);
  }
});

test("volumes are named; bind mounts are read-only files from this repository", () => {
  const declared = new Set(Object.keys(compose.volumes ?? {}));
  for (const [name, service] of services) {
    for (const volume of service.volumes ?? []) {
      assert.equal(typeof volume, "string", `service ${name}: use the short volume syntax`);
      const [source = "", , mode] = String(volume).split(":");
      if (source.startsWith(".") || source.startsWith("/")) {
        assert.equal(mode, "ro", `service ${name}: bind mount ${volume} must be read-only`);
        assert.ok(existsSync(path.resolve(dockerDir, source)), `service ${name}: ${source} does not exist`);
      } else {
        assert.ok(declared.has(source), `service ${name}: volume ${source} is not declared under volumes:`);
      }
    }
  }
});

test("same versions, ports, buckets and topics as the native stack (scripts/services)", () => {
  // The Dockerfiles' ARG defaults and the image tags carry the native stack's pins.
  const dockerArg = (file: string, arg: string) => new RegExp(`^ARG ${arg}=(\\S+)$`, "m").exec(readFileSync(path.join(dockerDir, file), "utf8"))?.[1];
  for (const [file, arg, pin] of [
    ["minio/Dockerfile", "MINIO_VERSION", "MINIO_VERSION"], ["minio/Dockerfile", "MINIO_MODULE", "MINIO_MODULE"],
    ["kafka/Dockerfile", "KAFKA_VERSION", "KAFKA_VERSION"], ["kafka/Dockerfile", "KAFKA_LOG4J_VERSION", "KAFKA_LOG4J_VERSION"],
    ["mlflow/Dockerfile", "MLFLOW_VERSION", "MLFLOW_VERSION"], ["mlflow/Dockerfile", "PSYCOPG2_VERSION", "PSYCOPG2_VERSION"],
    ["mlflow/Dockerfile", "BOTO3_VERSION", "BOTO3_VERSION"],
  ] as const) assert.equal(dockerArg(file, arg), versionPin(pin), `docker/${file}: ARG ${arg}`);
  assert.equal(dockerArg("postgres/Dockerfile", "PG_MAJOR"), versionPin("POSTGRES_MAJOR"), "docker/postgres/Dockerfile: ARG PG_MAJOR");
  for (const [service, pin] of [["minio", "MINIO_VERSION"], ["kafka", "KAFKA_VERSION"], ["mlflow", "MLFLOW_VERSION"], ["postgres", "POSTGRES_MAJOR"]] as const) {
    assert.equal(imageTag(compose.services[service]?.image ?? ""), versionPin(pin), `service ${service}'s image tag`);
  }

  // The native stack's client-facing ports (the KRaft controller's is internal to Kafka).
  const nativePorts = ["postgres", "minio", "kafka", "mlflow"].flatMap((service) =>
    [...readFileSync(path.join(root, `scripts/services/${service}.sh`), "utf8").matchAll(/^([A-Z_]+_PORT)=(\d+)$/gm)]
      .filter((m) => m[1] !== "KAFKA_CONTROLLER_PORT")
      .map((m) => m[2] ?? ""),
  );
  // The hub (docker/jupyterhub) has no native-stack counterpart: its port is the web entry, not a service's.
  // Host ports as written, "${DATAFLOW_S3_PORT:-19000}": their defaults are the native stack's.
  const hostPort = (p: string) => /^127\.0\.0\.1:(?:(\d+)|\$\{[A-Z0-9_]+:-(\d+)\}):/.exec(p)?.slice(1).find(Boolean) ?? p;
  const published = services.filter(([name]) => name !== "jupyterhub").flatMap(([, s]) => (s.ports ?? []).map((p) => (typeof p === "string" ? hostPort(p) : String(p.published))));
  assert.deepEqual(published.sort(), nativePorts.sort(), "compose.yml should publish the native stack's ports");

  const minioInit = compose.services["minio-init"];
  assert.ok(minioInit?.volumes?.some((v) => String(v).startsWith("../scripts/services/s3_buckets.py:")), "minio-init must run scripts/services/s3_buckets.py");
  const kafkaInit = JSON.stringify(compose.services["kafka-init"]?.command ?? "");
  for (const topic of ["transactions", "user-interactions"]) assert.ok(kafkaInit.includes(topic), `kafka-init does not create ${topic}`);
  assert.ok(kafkaInit.includes("--partitions 3"), "kafka-init must create 3 partitions per topic");
});
