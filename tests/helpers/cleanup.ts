/**
 * What an e2e test file starts and must end however its tests finish: client processes (killed), servers
 * (SIGKILL) and anything else (`cleanup` callbacks, run last in order). Call once at the top of a test file.
 */
import { afterAll } from "bun:test";
import type { Proc, RunningServer } from "./server.ts";

export function cleanupAfterAll(): {
  procs: Proc[];
  servers: RunningServer[];
  cleanup: (() => unknown)[];
  track: (p: Proc) => Proc;
} {
  const procs: Proc[] = [];
  const servers: RunningServer[] = [];
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const p of procs) p.kill();
    for (const s of servers) await s.stop("SIGKILL");
    for (const f of cleanup) await f();
  });
  return { procs, servers, cleanup, track: (p) => (procs.push(p), p) };
}
