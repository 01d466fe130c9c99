import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLab, type Lab } from "../../kernel-helpers/src/index.js";
import { useEmbeddedDefault } from "../embedded.js";

useEmbeddedDefault();

/** A lab in a fresh temp folder, closed and removed afterwards: tests never share state. */
export async function withLab<T>(work: (lab: Lab, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "dataflow-lab-test-"));
  const lab = await openLab({ home: join(dir, "lab"), quiet: true });
  try {
    return await work(lab, dir);
  } finally {
    lab.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Write a file under `dir` and return its path. */
export async function file(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

export async function count(lab: Lab, table: string): Promise<number> {
  return (await lab.sql(`SELECT count(*) FROM ${table}`)).number();
}
