/**
 * Generated files mixing good, malformed and blank lines, quotes, line breaks inside quoted fields and unicode: the
 * counts always add up, and every bronze _row_number and rejected line is the physical line its record starts on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ingestFile, REJECTED_RECORDS, type Lab } from "../../../kernel-helpers/src/index.js";
import { file, withLab } from "../helpers.js";

type Kind = "good" | "bad" | "blank";
interface Piece { readonly kind: Kind; readonly text: (line: number) => string; readonly b?: string }

const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }).filter((s) => !/[\r\n\u0000\ufeff]/.test(s));
const csvPiece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(text, fc.boolean(), fc.boolean()).map(([s, nl, quote]) => {
    const b = (nl ? s + "\n" + s : s) + (quote ? '"' : "");
    return { kind: "good" as const, b, text: (line: number) => `r${line},"${b.replaceAll('"', '""')}",c` };
  }) },
  { weight: 2, arbitrary: fc.constantFrom("x", "p,q,r,s,t", "1,2").map((t) => ({ kind: "bad" as const, text: () => t })) },
  { weight: 1, arbitrary: fc.constant({ kind: "blank" as const, text: () => "" }) },
);
const jsonPiece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 5, arbitrary: text.map((s) => ({ kind: "good" as const, b: s, text: (line: number) => JSON.stringify({ id: `r${line}`, b: s }) })) },
  { weight: 2, arbitrary: fc.constantFrom('{"id":', "[1,2]", "not json", '"str"').map((t) => ({ kind: "bad" as const, text: () => t })) },
  { weight: 1, arbitrary: fc.constantFrom("", "  ").map((t) => ({ kind: "blank" as const, text: () => t })) },
);

/** The file's text and, per record, the physical line it starts on. */
function build(pieces: readonly Piece[], eol: string, firstLine: number, prefix: string): { content: string; expected: { line: number; kind: Kind; b?: string }[] } {
  let line = firstLine;
  const out: string[] = [];
  const expected: { line: number; kind: Kind; b?: string }[] = [];
  for (const p of pieces) {
    const t = p.text(line);
    out.push(t.replaceAll("\n", eol));
    expected.push({ line, kind: p.kind, ...(p.b !== undefined ? { b: p.b } : {}) });
    line += t.split("\n").length;
  }
  return { content: prefix + out.join(eol) + (out.length ? eol : ""), expected };
}

// The same bytes twice (fast-check repeats small inputs) are one file already ingested: nothing is added.
const seen = new Set<string>();

async function check(lab: Lab, table: string, expected: { line: number; kind: Kind; b?: string }[], r: Awaited<ReturnType<typeof ingestFile>>, eol: string): Promise<void> {
  if (seen.has(`${table}:${r.sha256}`)) {
    assert.deepEqual([r.skipped, r.rows, r.rejected], [true, 0, 0], "a file ingested before adds nothing");
    return;
  }
  seen.add(`${table}:${r.sha256}`);
  assert.equal(r.skipped, false);
  const want = (k: Kind) => expected.filter((e) => e.kind === k);
  assert.equal(r.rows + r.rejected + r.blankLines, r.lines, "rows + rejected + blank = lines");
  assert.deepEqual([r.lines, r.rows, r.rejected, r.blankLines], [expected.length, want("good").length, want("bad").length, want("blank").length]);
  if (r.rows) {
    const rows = (await lab.sql(`SELECT id_col, b, _row_number FROM (SELECT * EXCLUDE (b), b, ${table === "j" ? "id" : "a"} AS id_col FROM bronze.${table}) WHERE _batch_id = ? ORDER BY _row_number`, [r.batchId])).rows();
    assert.deepEqual(rows.map((x) => x["_row_number"]), want("good").map((e) => e.line), "each row's _row_number is its first physical line");
    assert.deepEqual(rows.map((x) => x["id_col"]), want("good").map((e) => `r${e.line}`), "…and that line holds that row");
    assert.deepEqual(rows.map((x) => x["b"]), want("good").map((e) => (eol === "\r\n" && table !== "j" ? e.b!.replaceAll("\n", "\r\n") : e.b)), "values survive");
  }
  const rejected = (await lab.sql(`SELECT line FROM ${REJECTED_RECORDS} WHERE batch_id = ? ORDER BY line`, [r.batchId])).column("line");
  assert.deepEqual(rejected, want("bad").map((e) => e.line), "each rejected line is the physical line of the bad record");
}

test("generated CSV files: counts add up and line numbers point at the right physical lines", async () => {
  await withLab(async (lab, dir) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(csvPiece, { minLength: 1, maxLength: 25 }), fc.constantFrom("\n", "\r\n"), fc.boolean(), async (pieces, eol, sep) => {
        // At least one good row, so the file has data a header can describe.
        const all = [{ kind: "good" as const, b: "first", text: (l: number) => `r${l},"first",c` }, ...pieces];
        const prefix = (sep ? "sep=," + eol : "") + "a,b,c" + eol;
        const { content, expected } = build(all, eol, sep ? 3 : 2, prefix);
        const src = await file(dir, `g${n++}.csv`, content);
        const r = await ingestFile(lab, { file: src, table: "g", quote: '"', escape: '"', ...(sep ? {} : { delimiter: "," }) });
        await check(lab, "g", expected, r, eol);
      }),
      { numRuns: 40 },
    );
  });
});

test("generated JSON-lines files: counts add up and line numbers point at the right physical lines", async () => {
  await withLab(async (lab, dir) => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(jsonPiece, { minLength: 1, maxLength: 25 }), fc.constantFrom("\n", "\r\n"), async (pieces, eol) => {
        const { content, expected } = build(pieces, eol, 1, "");
        const src = await file(dir, `j${n++}.jsonl`, content);
        const r = await ingestFile(lab, { file: src, table: "j" });
        await check(lab, "j", expected, r, eol);
      }),
      { numRuns: 40 },
    );
  });
});
