/**
 * The bad-input suite: every kind of bad input the lab is known to meet, each answered with a named
 * error or a quarantine/rejection reason and nothing silently lost. Prints how many kinds were tried.
 */
import { after, describe, test } from "node:test";
import type { BadInputCase } from "./case.js";
import { cases as ingest } from "./ingest.cases.js";
import { cases as refine } from "./refine.cases.js";
import { cases as service } from "./service.cases.js";

const all: readonly BadInputCase[] = [...ingest, ...refine, ...service];
const answered: string[] = [];

for (const area of [...new Set(all.map((c) => c.area))]) {
  describe(`bad input: ${area}`, () => {
    for (const c of all.filter((x) => x.area === area)) {
      test(`${c.kind} → ${c.answer}`, async () => {
        await c.run();
        answered.push(c.kind);
      });
    }
  });
}

after(() => {
  const areas = new Set(all.map((c) => c.area)).size;
  console.log(`bad input: ${answered.length} of ${all.length} kinds tried in ${areas} areas answered with a named error or reason, nothing lost`);
});
