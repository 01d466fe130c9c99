import { ingestFile, refine, type ColumnSpec, type Lab } from "../../../kernel-helpers/src/index.js";
import { file } from "../helpers.js";

let n = 0;

/**
 * Refine one column of text values under `spec` and say what became of each: its silver value as text, or
 * "✗ " and the rules it failed. Values are quoted in the CSV, so padding reaches bronze as written.
 */
export async function parseEach(lab: Lab, dir: string, spec: ColumnSpec, values: readonly string[], rules: Parameters<typeof refine>[1]["rules"] = []): Promise<Record<string, string>> {
  const table = `p${++n}`;
  const csv = "id,v\n" + values.map((v, i) => `${i},"${v.replaceAll('"', '""')}"`).join("\n") + "\n";
  await ingestFile(lab, { file: await file(dir, `${table}.csv`, csv), table });
  await refine(lab, { source: `bronze.${table}`, target: `silver.${table}`, columns: { id: "INTEGER", v: spec }, rules });
  const clean = new Map((await lab.sql(`SELECT id, v::VARCHAR AS v FROM silver.${table}`)).rows().map((r) => [Number(r["id"]), String(r["v"])]));
  const failed = new Map((await lab.sql(`SELECT (row_data->>'id')::INTEGER AS id, failed_rules FROM silver.quarantine WHERE target_table = 'silver.${table}'`)).rows()
    .map((r) => [Number(r["id"]), `✗ ${(r["failed_rules"] as string[]).join(", ")}`]));
  return Object.fromEntries(values.map((v, i) => [v, clean.get(i) ?? failed.get(i) ?? "lost"]));
}
