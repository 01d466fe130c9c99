/**
 * A lab whose catalog was written by the engine the lab ran before (DuckDB 1.4.4, DuckLake 0.3) opens on the
 * current one: the catalog is migrated once, saying so, and its history (snapshots, time travel) survives.
 * The old catalog is made by the old engine itself (test/support/old-engine.ts). The services case is in test/integration/postgres.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DUCKLAKE_VERSION } from "../../../kernel-helpers/src/catalog/catalog.js";
import { openLab } from "../../../kernel-helpers/src/index.js";
import { previousPin as pin, writeOldCatalog } from "../../support/old-engine.js";
import { withLab } from "../helpers.js";

test("a DuckLake 0.3 catalog written by DuckDB 1.4.4 is migrated on open, with a message, and keeps its history", async () => {
  await withLab(async (_fresh, dir) => {
    const home = join(dir, "old-lab");
    const old = writeOldCatalog(home);
    assert.equal(old.engine, `v${pin.duckdb}`);
    assert.equal(old.format, "0.3");

    const said: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => void said.push(args.join(" "));
    let lab: Awaited<ReturnType<typeof openLab>>;
    try {
      lab = await openLab({ home, quiet: true });
    } finally {
      console.log = log;
    }
    try {
      assert.equal(lab.catalog.migratedFrom, "0.3");
      const message = said.find((line) => /migrating/i.test(line));
      assert.ok(message, `no migration message; printed: ${said.join(" | ")}`);
      assert.match(message, new RegExp(`0\\.3.*${DUCKLAKE_VERSION.replace(".", "\\.")}`));
      const backup = join(home, "catalog.ducklake.v0.3.bak");
      assert.ok(existsSync(backup) && message.includes(backup), "the old catalog file is kept, and the message says where");
      assert.equal((await lab.sql("SELECT value FROM __ducklake_metadata_lake.ducklake_metadata WHERE key = 'version'")).scalar(), DUCKLAKE_VERSION);

      // History survives: every old snapshot is still listed, and the table reads as of each of them.
      const ids = (await lab.catalog.snapshots()).map((s) => s.snapshotId);
      for (const id of old.snapshots) assert.ok(ids.includes(id), `snapshot ${id} lost in the migration (have ${ids.join(", ")})`);
      assert.deepEqual((await lab.sql("SELECT amount FROM silver.orders ORDER BY id")).column("amount").map(Number), old.amounts);
      const asCreated = await lab.sql(`SELECT amount FROM silver.orders AT (VERSION => ${old.created}) ORDER BY id`);
      assert.deepEqual(asCreated.column("amount").map(Number), [0, 10, 20]);
      assert.deepEqual(old.amounts, [0, 99, 20, 30, 40]);
      const beforeUpdate = await lab.catalog.readAsOf("silver.orders", old.created + 1);
      assert.deepEqual(beforeUpdate.column("amount").map(Number).sort((a, b) => a - b), [0, 10, 20, 30, 40]);

      // And the migrated lake takes new commits.
      await lab.catalog.run("INSERT INTO silver.orders VALUES (5, 50)");
      assert.equal((await lab.sql("SELECT count(*) FROM silver.orders")).number(), 6);
    } finally {
      lab.close();
    }

    // Opening it again migrates nothing.
    const again = await openLab({ home, quiet: true });
    try {
      assert.equal(again.catalog.migratedFrom, null);
    } finally {
      again.close();
    }
  });
});
