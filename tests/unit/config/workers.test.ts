import { describe, expect, test } from "bun:test";
import { cpus } from "node:os";
import { ConfigError, loadConfig } from "../../../lib/config/index.ts";
import { diffConfig } from "../../../lib/config/diff.ts";

const conf = (w: string) => `listen 1935; ${w}\nvhost __defaultVhost__ {}\n`;

describe("workers (srs-ts's directive)", () => {
  test("default 1; a count; auto is the number of cores; SRS_WORKERS overrides", () => {
    expect(loadConfig({ text: conf(""), env: {} }).workers()).toBe(1);
    expect(loadConfig({ text: conf("workers 3;"), env: {} }).workers()).toBe(3);
    const auto = loadConfig({ text: conf("workers auto;"), env: {} }).workers();
    expect(auto).toBeGreaterThanOrEqual(1);
    expect(auto).toBeLessThanOrEqual(Math.max(1, cpus().length));
    expect(loadConfig({ text: conf("workers 3;"), env: { SRS_WORKERS: "2" } }).workers()).toBe(2);
  });

  test("0, more than 64 and words are refused, naming the value in force", () => {
    expect(() => loadConfig({ text: conf("workers 0;"), env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ text: conf("workers 65;"), env: {} })).toThrow(/workers=65 should be auto or in \[1, 64\]/);
    expect(() => loadConfig({ text: conf(""), env: { SRS_WORKERS: "many" } })).toThrow(/workers=many/);
  });

  test("a change shows in the reload diff", () => {
    const a = loadConfig({ text: conf("workers 1;"), env: {} });
    const b = loadConfig({ text: conf("workers 2;"), env: {} });
    expect(diffConfig(a, b).global.map((c) => c.section)).toContain("workers");
  });
});
