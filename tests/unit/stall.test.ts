import { describe, expect, test } from "bun:test";
import { StallMeter } from "../../lib/stall.ts";

describe("StallMeter", () => {
  test("a check on time, or late by less than one interval, is no stall", () => {
    const t0 = Date.now();
    const m = new StallMeter(1000);
    expect(m.stalledMs(t0 + 1000)).toBe(0);
    expect(m.stalledMs(t0 + 2900)).toBe(0); // 900 ms late: slack
  });

  test("a check late by more than one interval reports the whole delay past the interval", () => {
    const t0 = Date.now();
    const m = new StallMeter(1000);
    expect(m.stalledMs(t0 + 5600)).toBe(4600);
    expect(m.stalledMs(t0 + 6600)).toBe(0); // back on time
  });
});
