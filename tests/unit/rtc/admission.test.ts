/** The RTC join admission gate: at most `limit` handshakes at once, FIFO waiters, refusal after maxWaitMs. */
import { describe, expect, test } from "bun:test";
import { HandshakeGate } from "../../../lib/protocols/rtc/admission.ts";

describe("HandshakeGate", () => {
  test("admits up to the limit at once, queues the rest in order, frees a slot on release", async () => {
    const gate = new HandshakeGate(2, 5000, 60000);
    const r1 = await gate.acquire();
    const r2 = await gate.acquire();
    expect(r1 && r2).toBeTruthy();
    const order: number[] = [];
    const w3 = gate.acquire().then((r) => (order.push(3), r));
    const w4 = gate.acquire().then((r) => (order.push(4), r));
    await Bun.sleep(10);
    expect(order).toEqual([]); // both wait
    expect(gate.stats.queued).toBe(2);
    r1!();
    const r3 = await w3;
    expect(order).toEqual([3]);
    r1!(); // releasing twice frees nothing more
    await Bun.sleep(10);
    expect(order).toEqual([3]);
    r2!();
    const r4 = await w4;
    expect(order).toEqual([3, 4]);
    r3!();
    r4!();
    expect(gate.stats.active).toBe(0);
    expect(gate.stats.waitedTotal).toBe(2);
  });

  test("a waiter is refused (undefined) after maxWaitMs and does not take a later slot", async () => {
    const gate = new HandshakeGate(1, 50, 60000);
    const r1 = await gate.acquire();
    const refused = await gate.acquire();
    expect(refused).toBeUndefined();
    expect(gate.stats.refusedTotal).toBe(1);
    r1!();
    expect(gate.stats.active).toBe(0);
    expect(await gate.acquire()).toBeTruthy();
  });

  test("a slot held past handshakeMs is released by itself", async () => {
    const gate = new HandshakeGate(1, 5000, 30);
    await gate.acquire(); // never released by its holder
    const next = await gate.acquire();
    expect(next).toBeTruthy();
  });
});
