/**
 * The primary of srs-ts's `workers N;` (SRS has no such directive): starts N workers, each this same program
 * with SRS_WORKER_ID=1..N, which all listen on the configured ports with SO_REUSEPORT (the kernel spreads the
 * connections). The primary binds nothing itself: it keeps the registry of stream owners (one publisher per
 * stream across the server, see messages.ts), restarts a worker that dies (its streams are released: their
 * publishers reconnect to whichever worker the kernel gives them), and forwards signals: SIGTERM/SIGINT/SIGQUIT
 * quit every worker and then itself, SIGHUP (reload) and SIGUSR1 (reopen log) go to every worker.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { PrimaryMessage, WorkerMessage } from "./messages.ts";

export interface PrimaryOptions {
  count: number;
  /** How to run this program again (the runtime, its entry and the command line). */
  command: { cmd: string; args: string[] };
  log(line: string): void;
  /**
   * A worker's first start failed (it exited before it was ready: a port in use, a bad setting): the others are
   * stopped and the primary fails with this, rather than restarting it forever.
   */
  onStartFailed(why: string): void;
  /** First wait before restarting a worker that died, ms (doubles while it keeps dying at once, up to 5 s). */
  restartDelayMs?: number;
}

interface Slot {
  id: number;
  child?: ChildProcess;
  rtmp: number;
  /** Its private loopback API port (0 until it said hello). */
  api: number;
  startedAt: number;
  delay: number;
  /** Said hello (its listeners are up) at least once. */
  everReady: boolean;
}

/** Claims younger than this survive a worker's "published" list that does not name them yet. */
const CLAIM_GRACE_MS = 5000;

export class Primary {
  private slots: Slot[] = [];
  private owners = new Map<string, { worker: number; at: number }>();
  private quitting = false;
  private readonly secret = randomBytes(16).toString("hex");
  private exited!: () => void;
  /** Resolves when every worker has exited after a quit. */
  readonly done = new Promise<void>((r) => (this.exited = r));

  constructor(private o: PrimaryOptions) {}

  start(): void {
    for (let i = 1; i <= this.o.count; i++) {
      const s: Slot = { id: i, rtmp: 0, api: 0, startedAt: 0, delay: this.o.restartDelayMs ?? 200, everReady: false };
      this.slots.push(s);
      this.spawn(s);
    }
    this.o.log(`workers: primary pid=${process.pid} started ${this.o.count} workers`);
  }

  private spawn(s: Slot): void {
    const { cmd, args } = this.o.command;
    const child = spawn(cmd, args, {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        SRS_WORKER_ID: String(s.id),
        SRS_WORKER_COUNT: String(this.o.count),
        SRS_WORKER_SECRET: this.secret,
        SRS_DAEMON: "off",
      },
    });
    s.child = child;
    s.rtmp = 0;
    s.startedAt = Date.now();
    child.on("message", (m) => this.onMessage(s, m as WorkerMessage));
    child.on("error", (e) => this.o.log(`workers: worker ${s.id}: ${e.message}`));
    child.on("exit", (code, signal) => this.onExit(s, child, code, signal));
    this.o.log(`workers: worker ${s.id} started, pid=${child.pid}`);
  }

  private onExit(s: Slot, child: ChildProcess, code: number | null, signal: string | null): void {
    if (s.child !== child) return;
    s.child = undefined;
    s.rtmp = 0;
    s.api = 0;
    for (const [k, o] of this.owners) if (o.worker === s.id) this.owners.delete(k);
    this.broadcast();
    if (this.quitting) {
      if (this.slots.every((x) => !x.child)) this.exited();
      return;
    }
    if (!s.everReady) {
      this.quitting = true;
      for (const x of this.slots) x.child?.kill("SIGTERM");
      this.o.onStartFailed(`worker ${s.id} could not start (${signal ?? `exit ${code}`})`);
      return;
    }
    // A worker that dies right after its start waits longer each time (a bad port, a crash at start).
    s.delay = Date.now() - s.startedAt < 5000 ? Math.min(s.delay * 2, 5000) : (this.o.restartDelayMs ?? 200);
    this.o.log(`workers: worker ${s.id} exited (${signal ?? `code ${code}`}), restarting in ${s.delay} ms`);
    setTimeout(() => {
      if (!this.quitting) this.spawn(s);
    }, s.delay);
  }

  private send(s: Slot, m: PrimaryMessage): void {
    try {
      if (s.child?.connected) s.child.send(m);
    } catch {
      // the worker is exiting
    }
  }

  private broadcast(): void {
    const owners: [string, number, number][] = [];
    for (const [k, o] of this.owners) owners.push([k, o.worker, this.slots[o.worker - 1]?.rtmp ?? 0]);
    const workers: [number, number, number][] = this.slots.filter((s) => s.api > 0).map((s) => [s.id, s.rtmp, s.api]);
    for (const s of this.slots) this.send(s, { t: "owners", owners, workers });
  }

  private onMessage(s: Slot, m: WorkerMessage): void {
    if (!m || typeof m !== "object") return;
    switch (m.t) {
      case "hello":
        s.everReady = true;
        s.rtmp = m.rtmp;
        s.api = m.api;
        this.broadcast();
        return;
      case "claim": {
        const o = this.owners.get(m.key);
        const ok = !o || o.worker === s.id;
        if (ok) {
          this.owners.set(m.key, { worker: s.id, at: Date.now() });
          if (!o) this.broadcast();
        }
        this.send(s, { t: "claimed", id: m.id, ok, owner: ok ? s.id : o!.worker });
        return;
      }
      case "release": {
        if (this.owners.get(m.key)?.worker === s.id) {
          this.owners.delete(m.key);
          this.broadcast();
        }
        return;
      }
      case "published": {
        const now = new Set(m.keys);
        let changed = false;
        // What the worker publishes and nobody owns is its (a lost claim or release comes right again).
        for (const k of now) {
          if (!this.owners.has(k)) {
            this.owners.set(k, { worker: s.id, at: Date.now() });
            changed = true;
          }
        }
        for (const [k, o] of this.owners) {
          if (o.worker === s.id && !now.has(k) && Date.now() - o.at > CLAIM_GRACE_MS) {
            this.owners.delete(k);
            changed = true;
          }
        }
        if (changed) this.broadcast();
      }
    }
  }

  /** Passes a signal to every worker; a quit signal also ends the primary once they have all exited. */
  signal(sig: NodeJS.Signals): void {
    if (sig === "SIGTERM" || sig === "SIGINT" || sig === "SIGQUIT") this.quitting = true;
    for (const s of this.slots) {
      try {
        s.child?.kill(sig);
      } catch {
        // gone
      }
    }
    if (this.quitting && this.slots.every((x) => !x.child)) this.exited();
  }
}
