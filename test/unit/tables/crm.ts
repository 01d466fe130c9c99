import path from "node:path";
import { fileURLToPath } from "node:url";
import { ingestFile, type Lab } from "../../../kernel-helpers/src/index.js";
import { readManifest, type CrmManifest } from "../../../data/generate.js";

export const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../data/samples");

/** The CRM part of the committed samples' manifest: what merging and versioning the exports must give. */
export async function crmManifest(): Promise<CrmManifest> {
  return (await readManifest(SAMPLES)).crm;
}

export function samplePath(crm: CrmManifest, file: keyof CrmManifest["files"]): string {
  return path.join(SAMPLES, crm.files[file].file);
}

/** The typed view of one bronze batch of customers: what a notebook merges. Bronze CSV columns are text. */
export function exportOf(batchId: string): string {
  return `SELECT customer_id::INTEGER AS customer_id, name, email, street, city, state, updated_at::TIMESTAMP AS updated_at, _row_number
    FROM bronze.crm_customers WHERE _batch_id = '${batchId}'`;
}

/** Both month-end exports in bronze.crm_customers (one batch each) and the typed SELECT of each. */
export async function ingestExports(lab: Lab, crm: CrmManifest): Promise<{ first: string; second: string }> {
  const a = await ingestFile(lab, { file: samplePath(crm, "initial"), table: "crm_customers" });
  const b = await ingestFile(lab, { file: samplePath(crm, "next"), table: "crm_customers" });
  return { first: exportOf(a.batchId), second: exportOf(b.batchId) };
}

/** An export read straight from its file with the types silver keeps, for comparing table contents. */
export function fileRows(crm: CrmManifest, file: "initial" | "next"): string {
  return `SELECT customer_id::INTEGER AS customer_id, name, email, street, city, state, updated_at::TIMESTAMP AS updated_at
    FROM read_csv('${samplePath(crm, file).replaceAll("'", "''")}', all_varchar = true)`;
}

export async function snapshotCount(lab: Lab): Promise<number> {
  return (await lab.catalog.snapshots()).length;
}
