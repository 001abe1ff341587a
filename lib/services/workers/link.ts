/**
 * One worker's side of srs-ts's `workers N;` (the primary: lib/workers/primary.ts): its channel to the primary,
 * the registry of stream owners the primary keeps it told of, and the claims of its publishers. One publisher
 * per stream across the server: a publisher is let in only when the primary grants the stream to this worker
 * (another worker's stream is busy). A player of a stream another worker owns is fed by a pull from the owner's
 * private loopback RTMP port (the edge's machinery, lib/services/cluster/edge.ts), which the owner knows for an
 * internal client by the secret in its query.
 */
import type { AccessResult } from "../../access.ts";
import { ALLOWED } from "../../access.ts";
import type { HubRegistry } from "../../hub/registry.ts";
import { isWorkerCopy } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import type { StreamKey } from "../../media/packet.ts";
import { streamKeyString } from "../../media/packet.ts";
import type { WorkerEnv } from "../../runtime/worker-env.ts";
import type { PrimaryMessage, WorkerMessage } from "../../workers/messages.ts";
import { mergedMetrics } from "./api.ts";

/** The IPC channel to the primary (process.send / process.on("message") in a worker). */
export interface WorkerChannel {
  send(m: WorkerMessage): void;
  onMessage(f: (m: PrimaryMessage) => void): void;
}

export interface WorkerLinkPorts {
  readonly hubs: Pick<HubRegistry, "listen" | "all">;
  readonly log: Log;
}

/** How long a publisher waits for the primary's answer before it is refused. */
const CLAIM_TIMEOUT_MS = 3000;
/** How often the worker tells the primary every stream it publishes (stale claims are dropped). */
const PUBLISHED_EVERY_MS = 2000;

export class WorkerLink {
  private owners = new Map<string, { worker: number; rtmp: number }>();
  private workers: { id: number; api: string }[] = [];
  private claims = new Map<number, (r: { ok: boolean; owner: number }) => void>();
  private nextClaim = 1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private changed: (() => void) | undefined;
  /** The query of a pull from another worker: the owner lets it in as an internal client. */
  readonly param: string;

  constructor(private ctx: WorkerLinkPorts, readonly env: WorkerEnv, private channel: WorkerChannel) {
    this.param = `?srs_worker=${env.secret}`;
  }

  get id(): number {
    return this.env.id;
  }

  /** Says hello with the private RTMP port, follows the owners, releases streams whose publisher left. */
  start(privatePorts: { rtmp: number; api: number }, onOwnersChanged: () => void): void {
    this.changed = onOwnersChanged;
    this.channel.onMessage((m) => this.onMessage(m));
    this.channel.send({ t: "hello", ...privatePorts });
    // Released when a publisher of this worker leaves (not when a copy pulled from another worker ends).
    const local = new Set<string>();
    this.ctx.hubs.listen({
      onPublish: (hub) => {
        if (!isWorkerCopy(hub)) local.add(hub.name);
      },
      onUnpublish: (hub) => {
        if (local.delete(hub.name)) this.channel.send({ t: "release", key: hub.name });
      },
    });
    this.timer = setInterval(() => {
      const keys = this.ctx.hubs.all().filter((h) => h.active && !isWorkerCopy(h)).map((h) => h.name);
      this.channel.send({ t: "published", keys });
    }, PUBLISHED_EVERY_MS);
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private onMessage(m: PrimaryMessage): void {
    if (!m || typeof m !== "object") return;
    if (m.t === "claimed") {
      const f = this.claims.get(m.id);
      this.claims.delete(m.id);
      f?.({ ok: m.ok, owner: m.owner });
    } else if (m.t === "owners") {
      this.owners = new Map(m.owners.map(([k, worker, rtmp]) => [k, { worker, rtmp }]));
      this.workers = m.workers.map(([id, , api]) => ({ id, api: `127.0.0.1:${api}` }));
      this.changed?.();
    }
  }

  /** Every running worker's private API (this one's included), for the merged API views. */
  peers(): { id: number; api: string }[] {
    return this.workers;
  }

  get secret(): string {
    return this.env.secret;
  }

  get log(): Log {
    return this.ctx.log;
  }

  /** Every worker's /metrics as one (the exporter's shared port). */
  mergedMetrics(): Promise<string | undefined> {
    return mergedMetrics(this);
  }

  /** "127.0.0.1:port" of the worker that owns `key`, when that is another worker whose port is known. */
  origin(key: StreamKey): string | undefined {
    const o = this.owners.get(streamKeyString(key));
    if (!o || o.worker === this.env.id || !o.rtmp) return undefined;
    return `127.0.0.1:${o.rtmp}`;
  }

  /** Whether a client is another worker's pull (on loopback, with the secret of this server's workers). */
  isInternal(c: { ip: string; param?: string }): boolean {
    if (!this.env.secret) return false;
    const ip = c.ip.replace(/^::ffff:/, "");
    if (ip !== "127.0.0.1" && ip !== "::1") return false;
    return new URLSearchParams(c.param ?? "").get("srs_worker") === this.env.secret;
  }

  /** Asks the primary for `key`: allowed when no other worker publishes it. */
  claim(key: StreamKey): Promise<AccessResult> {
    const id = this.nextClaim++;
    const name = streamKeyString(key);
    return new Promise<AccessResult>((resolve) => {
      const timer = setTimeout(() => {
        this.claims.delete(id);
        resolve({ ok: false, reason: `workers: the primary did not answer the claim of ${name} in ${CLAIM_TIMEOUT_MS} ms` });
      }, CLAIM_TIMEOUT_MS);
      this.claims.set(id, (r) => {
        clearTimeout(timer);
        resolve(r.ok ? ALLOWED : { ok: false, reason: `stream ${name} is busy: published on worker ${r.owner}` });
      });
      this.channel.send({ t: "claim", id, key: name });
    });
  }
}
