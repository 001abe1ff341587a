/**
 * lib/lifecycle.ts: the phases run in order, a part that never finishes does not hold the stop, tracked work
 * (and work it starts) is waited for, a graceful stop waits for sessions and a second stop hurries it.
 * Budgets are tiny; what is asserted is the order and that stop() resolves, never a duration.
 */
import { expect, test } from "bun:test";
import { acceptPart, type Closer, Lifecycle, type Phase } from "../../../lib/lifecycle.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";

const log = () => new Log(new LogSink({ tank: "console", level: "error" }), "test");

function part(events: string[], name: string, phase: Phase, close: () => void | Promise<unknown> = () => {}): Closer {
  return {
    name,
    phase,
    close: () => {
      events.push(`${phase}:${name}`);
      return close();
    },
  };
}

test("fast stop: accept, then sessions, then finish; tracked work is waited for; each part once", async () => {
  const lc = new Lifecycle(log());
  const events: string[] = [];
  lc.register(part(events, "dvr", "finish"));
  lc.register(part(events, "clients", "sessions", () => {
    // a session's end sends a hook
    void lc.track(Bun.sleep(5).then(() => events.push("hook")));
  }));
  lc.register(part(events, "rtmp", "accept"));
  const off = lc.register(part(events, "gone", "accept"));
  off();
  await lc.stop({ reason: "test", budgetMs: 1000 });
  expect(events).toEqual(["accept:rtmp", "sessions:clients", "finish:dvr", "hook"]);
  await lc.stop({ reason: "again", budgetMs: 1000 });
  expect(events.length).toBe(4);
});

test("a part that never finishes and a hook that never answers do not hold the stop", async () => {
  const lc = new Lifecycle(log());
  const events: string[] = [];
  lc.register(part(events, "stuck", "finish", () => new Promise(() => {})));
  lc.register(part(events, "clients", "sessions", () => void lc.track(new Promise(() => {}))));
  await lc.stop({ reason: "test", budgetMs: 50 });
  expect(events).toEqual(["sessions:clients", "finish:stuck"]);
});

test("tracked work started by tracked work is waited for too", async () => {
  const lc = new Lifecycle(log());
  const done: string[] = [];
  void lc.track(Bun.sleep(5).then(() => {
    done.push("file renamed");
    void lc.track(Bun.sleep(5).then(() => done.push("on_dvr sent")));
  }));
  await lc.stop({ reason: "test", budgetMs: 5000 });
  expect(done).toEqual(["file renamed", "on_dvr sent"]);
});

test("a failing part is logged and the others still close", async () => {
  const lc = new Lifecycle(log());
  const events: string[] = [];
  lc.register(part(events, "bad", "accept", () => {
    throw new Error("boom");
  }));
  lc.register(part(events, "good", "accept"));
  await lc.stop({ reason: "test", budgetMs: 1000 });
  expect(events).toEqual(["accept:bad", "accept:good"]);
});

test("graceful: sessions that end by themselves end the wait; a second stop hurries the start wait", async () => {
  const lc = new Lifecycle(log());
  const events: string[] = [];
  let leave!: () => void;
  const left = new Promise<void>((r) => (leave = r));
  lc.register(part(events, "rtmp", "accept"));
  lc.register({ ...part(events, "clients", "sessions"), drained: () => left });
  const stopped = lc.stop({ reason: "SIGQUIT", budgetMs: 1000, graceful: { startWaitMs: 60_000, finalWaitMs: 60_000 } });
  await Bun.sleep(10);
  expect(events).toEqual([]); // still in grace_start_wait: accepting
  void lc.stop({ reason: "SIGTERM", budgetMs: 1000 }); // a second signal
  await stopped;
  expect(events).toEqual(["accept:rtmp", "sessions:clients"]);
  leave();

  const lc2 = new Lifecycle(log());
  const ev2: string[] = [];
  let leave2!: () => void;
  lc2.register(part(ev2, "rtmp", "accept"));
  lc2.register({ ...part(ev2, "clients", "sessions"), drained: () => new Promise<void>((r) => (leave2 = r)) });
  const s2 = lc2.stop({ reason: "SIGQUIT", budgetMs: 1000, graceful: { startWaitMs: 0, finalWaitMs: 60_000 } });
  await Bun.sleep(10);
  expect(ev2).toEqual(["accept:rtmp"]); // listeners closed, waiting for the sessions
  leave2();
  await s2;
  expect(ev2).toEqual(["accept:rtmp", "sessions:clients"]);
});

test("acceptPart: closing the listener yourself ends its registration", async () => {
  const lc = new Lifecycle(log());
  let closes = 0;
  const l = acceptPart(lc, "http", { port: 8080, close: () => Promise.resolve(void closes++) });
  expect(l.port).toBe(8080);
  await l.close();
  await lc.stop({ reason: "test", budgetMs: 1000 });
  expect(closes).toBe(1);
});

test("a part registered after its phase ran (a listener a reload opened during the quit) is closed at once", async () => {
  const lc = new Lifecycle(log());
  const events: string[] = [];
  let release!: () => void;
  lc.register(part(events, "clients", "sessions", () => new Promise<void>((r) => (release = r))));
  const stopping = lc.stop({ reason: "test", budgetMs: 1000 });
  await Bun.sleep(5); // accept has run, sessions is running
  lc.register(part(events, "late listener", "accept"));
  lc.register(part(events, "late service", "finish"));
  await Bun.sleep(5);
  expect(events).toEqual(["sessions:clients", "accept:late listener"]);
  release();
  await stopping;
  expect(events).toEqual(["sessions:clients", "accept:late listener", "finish:late service"]);
});
