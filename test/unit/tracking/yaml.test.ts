import { test } from "node:test";
import assert from "node:assert/strict";
import { fromYaml, toYaml } from "../../../kernel-helpers/src/tracking/yaml.js";

test("meta.yaml as PyYAML writes it (MLflow's own files) is read back", () => {
  // Printed by PyYAML's yaml.dump(default_flow_style=False), as MLflow's write_yaml calls it.
  const pyyaml = [
    "aliases:",
    "  champion: '1'",
    `artifact_location: 'file:///very/long/path/${"x".repeat(90)}/with`,
    "  spaces and: colons'",
    "description: 'multi",
    "",
    "  line'",
    "end_time: null",
    "experiment_id: '0'",
    "name: it's",
    "status: 3",
    "tags: []",
    "",
  ].join("\n");
  assert.deepEqual(fromYaml(pyyaml), {
    aliases: { champion: "1" },
    artifact_location: `file:///very/long/path/${"x".repeat(90)}/with spaces and: colons`,
    description: "multi\nline",
    end_time: null,
    experiment_id: "0",
    name: "it's",
    status: 3,
    tags: [],
  });
});

test("what we write is sorted like PyYAML's output and reads back unchanged", () => {
  const data = { name: 'a "quoted": name\nwith a newline', experiment_id: "0", status: 3, end_time: null, tags: [] as [], aliases: { champion: "1" }, empty: {} };
  const text = toYaml(data);
  assert.deepEqual(text.split("\n").filter((l) => /^\S/.test(l)).map((l) => l.split(":")[0]), ["aliases", "empty", "end_time", "experiment_id", "name", "status", "tags"]);
  assert.deepEqual(fromYaml(text), data);
});
