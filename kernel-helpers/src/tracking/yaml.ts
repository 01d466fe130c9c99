/**
 * Just enough YAML for MLflow's meta.yaml files: flat maps of scalars plus one level of nested
 * string maps (tags, aliases). Not a general YAML library, on purpose: no dependency for a format
 * whose shape MLflow fixes.
 */
export type YamlScalar = string | number | null;
export type YamlValue = YamlScalar | Readonly<Record<string, string>> | readonly [];

/** Keys sorted like PyYAML's dump in MLflow; strings double-quoted (JSON escapes are valid YAML). */
export function toYaml(data: Readonly<Record<string, YamlValue>>): string {
  const lines: string[] = [];
  for (const key of Object.keys(data).sort()) {
    const value = data[key]!;
    if (Array.isArray(value)) lines.push(`${key}: []`);
    else if (value !== null && typeof value === "object") {
      const entries = Object.entries(value);
      if (entries.length === 0) lines.push(`${key}: {}`);
      else {
        lines.push(`${key}:`);
        for (const [k, v] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      }
    } else {
      lines.push(`${key}: ${scalar(value as YamlScalar)}`);
    }
  }
  return lines.join("\n") + "\n";
}

function scalar(value: YamlScalar): string {
  if (value === null) return "null";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : JSON.stringify(value);
  return JSON.stringify(value);
}

/** Read a meta.yaml written by us or by MLflow (PyYAML: plain, single- or double-quoted scalars). */
export function fromYaml(text: string): Record<string, YamlValue> {
  const out: Record<string, YamlValue> = {};
  let key: string | undefined;
  let raw: string[] = [];
  let nested: Record<string, string> | undefined;
  const flush = () => {
    if (key !== undefined && !nested) out[key] = parseScalar(fold(raw));
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trimStart().startsWith("#")) continue;
    const entry = /^\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?):(?:\s+(.*))?$/.exec(line);
    if (/^\S/.test(line) && entry) {
      flush();
      key = String(parseScalar(entry[1]!));
      const rest = entry[2]?.trim() ?? "";
      nested = undefined;
      raw = [];
      if (rest === "") out[key] = nested = {};
      else if (rest === "{}" || rest === "[]") {
        out[key] = rest === "{}" ? {} : [];
        key = undefined;
      } else raw = [rest];
    } else if (nested && entry) {
      nested[String(parseScalar(entry[1]!))] = String(parseScalar(entry[2] ?? ""));
    } else if (key !== undefined && !nested) {
      raw.push(line.trim()); // PyYAML folds long scalars onto indented continuation lines
    }
  }
  flush();
  return out;
}

// YAML line folding: a line break becomes a space, an empty line a newline.
function fold(all: readonly string[]): string {
  const lines = [...all];
  while (lines.at(-1) === "") lines.pop();
  let out = lines[0] ?? "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") out += "\n";
    else out += lines[i - 1] === "" ? line : ` ${line}`;
  }
  return out;
}

function parseScalar(raw: string): YamlScalar {
  const s = raw.trim();
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'")) return s.slice(1, -1).replaceAll("''", "'");
  if (s === "null" || s === "~" || s === "") return null;
  if (/^-?\d+$/.test(s)) return Number(s);
  return s;
}
