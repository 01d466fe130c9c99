import { ident, isPlainName, literal } from "../catalog/sql.js";
import { StreamError } from "./source.js";

/**
 * A topic's message schema, as small as it can be: field → type, with a trailing "?" for an
 * optional field, e.g. `{ transaction_id: "string", amount: "number", coupon: "string?" }`.
 * Fields not listed are kept (in `_value`) but not checked.
 */
export type TopicSchema = Readonly<Record<string, FieldType>>;
export type FieldType = `${BaseType}` | `${BaseType}?`;
type BaseType = "string" | "number" | "integer" | "boolean" | "object" | "array";

// What DuckDB's json_type() answers for each accepted type.
const JSON_TYPES: Record<BaseType, string[]> = {
  string: ["VARCHAR"],
  number: ["BIGINT", "UBIGINT", "DOUBLE", "HUGEINT"],
  integer: ["BIGINT", "UBIGINT", "HUGEINT"],
  boolean: ["BOOLEAN"],
  object: ["OBJECT"],
  array: ["ARRAY"],
};
const SQL_TYPES: Record<BaseType, string> = {
  string: "VARCHAR", number: "DOUBLE", integer: "BIGINT", boolean: "BOOLEAN", object: "JSON", array: "JSON",
};

/** Columns every stream bronze table has, after the schema's own. */
export const STREAM_METADATA = ["_value", "_topic", "_partition", "_offset", "_timestamp", "_key", "_ingested_at"] as const;

interface Field {
  readonly name: string;
  readonly type: BaseType;
  readonly optional: boolean;
}

export function parseSchema(topic: string, schema: TopicSchema | undefined): Field[] {
  return Object.entries(schema ?? {}).map(([name, spec]) => {
    const type = spec.replace(/\?$/, "") as BaseType;
    if (!isPlainName(name) || (STREAM_METADATA as readonly string[]).includes(name) || !(type in JSON_TYPES)) {
      throw new StreamError(`The schema of topic "${topic}" has an invalid field ${JSON.stringify(name)}: ${JSON.stringify(spec)}.`, {
        fix: `Use plain field names (letters, digits, _; not ${STREAM_METADATA.join(", ")}) and one of the types ${Object.keys(JSON_TYPES).join(", ")}, optionally ending in "?".`,
        context: { topic, field: name },
      });
    }
    return { name, type, optional: spec.endsWith("?") };
  });
}

/** `name TYPE, …` for CREATE TABLE. */
export function columnDefinitions(fields: Field[]): string[] {
  return fields.map((f) => `${ident(f.name)} ${SQL_TYPES[f.type]}`);
}

/** `expr AS name, …` reading each field from the text column `raw` (already validated). */
export function fieldExtracts(fields: Field[], raw: string): string[] {
  return fields.map((f) => {
    const path = literal(`$.${f.name}`);
    const expr = f.type === "object" || f.type === "array" ? `json_extract(${raw}, ${path})` : `TRY_CAST(json_extract_string(${raw}, ${path}) AS ${SQL_TYPES[f.type]})`;
    return `${expr} AS ${ident(f.name)}`;
  });
}

/** A SQL expression: NULL when `raw` is a valid message, else why not (every failing field, one sentence each). */
export function errorExpression(fields: Field[], raw: string): string {
  const checks = fields.map((f) => {
    const t = `json_type(${raw}, ${literal(`$.${f.name}`)})`;
    const missing = f.optional ? "NULL" : `${literal(`${f.name} is required`)}`;
    const ok = JSON_TYPES[f.type].map((x) => literal(x)).join(", ");
    return `CASE WHEN ${t} IS NULL OR ${t} = 'NULL' THEN ${missing}
                 WHEN ${t} NOT IN (${ok}) THEN ${literal(`${f.name} must be ${article(f.type)}, got `)} || ${friendly(t)} END`;
  });
  const fieldErrors = checks.length ? `nullif(concat_ws('; ', ${checks.join(", ")}), '')` : "NULL";
  return `CASE WHEN ${raw} IS NULL THEN 'empty message (no value)'
               WHEN NOT json_valid(${raw}) THEN 'not valid JSON'
               WHEN json_type(${raw}) <> 'OBJECT' THEN 'valid JSON but not an object'
               ELSE ${fieldErrors} END`;
}

// The JSON vocabulary the schema speaks, rather than DuckDB's type names.
function friendly(jsonType: string): string {
  return `CASE WHEN ${jsonType} = 'VARCHAR' THEN 'string' WHEN ${jsonType} IN ('BIGINT', 'UBIGINT', 'HUGEINT') THEN 'integer'
               WHEN ${jsonType} = 'DOUBLE' THEN 'number' ELSE lower(${jsonType}) END`;
}

function article(type: BaseType): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
