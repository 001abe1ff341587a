/**
 * The log sink's ring of last lines (lib/log/logger.ts LogRing), for GET /api/v1/logs: bounded, oldest first,
 * filtered by context id, long lines cut.
 */
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { LogRing, LogSink } from "../../lib/log/logger.ts";
import { tempDir } from "../helpers/temp.ts";

describe("LogRing", () => {
  test("keeps the last `capacity` lines; recent() filters by cid and counts from the newest", () => {
    const r = new LogRing(5);
    for (let i = 0; i < 8; i++) r.push(i % 2 ? "odd" : "even", `line ${i}`);
    expect(r.recent(undefined, 100).map((l) => l.line)).toEqual(["line 3", "line 4", "line 5", "line 6", "line 7"]);
    expect(r.recent(undefined, 2).map((l) => l.line)).toEqual(["line 6", "line 7"]);
    expect(r.recent("odd", 100).map((l) => l.line)).toEqual(["line 3", "line 5", "line 7"]);
    expect(r.recent("odd", 1).map((l) => l.line)).toEqual(["line 7"]);
    expect(r.recent("none", 10)).toEqual([]);
    expect(r.recent(undefined, Number.NaN)).toEqual([]);
  });

  test("a long line is cut; the sink keeps what it writes at its level", () => {
    const r = new LogRing(2);
    r.push("x", "a".repeat(10_000));
    expect(r.recent("x", 1)[0]!.line.length).toBeLessThan(2100);
    const dir = tempDir("srs-logring-");
    const sink = new LogSink({ tank: "file", file: join(dir, "srs.log"), level: "trace" });
    sink.write("info", "c1", "hidden"); // below the level
    sink.write("trace", "c1", "shown");
    sink.close();
    rmSync(dir, { recursive: true, force: true });
    const lines = sink.ring.recent("c1", 10);
    expect(lines.length).toBe(1);
    expect(lines[0]!.line).toMatch(/\[Trace\]\[\d+\]\[c1\] shown$/);
  });
});
