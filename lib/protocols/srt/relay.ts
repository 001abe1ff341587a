/**
 * A minimal in-process SRT relay over SrtServer, for the SRT e2e tests and bench/srt-load.ts (the real server
 * integration lives in bridge.ts). Stream ids: `#!::r=NAME,m=publish` publishes NAME, `#!::r=NAME,m=request`
 * (or no m=) plays it; a plain stream id is the resource name itself. Payloads are forwarded as they are
 * delivered: no demuxing, no GOP cache.
 *
 * Standalone: `bun lib/protocols/srt/relay.ts [port] [latencyMs] [passphrase]`.
 */
import { Log, LogSink } from "../../log/logger.ts";
import type { SrtConnection } from "./connection.ts";
import { SrtServer, type SrtServerOptions } from "./server.ts";

export function parseRelayStreamId(sid: string): { resource: string; publish: boolean } {
  if (!sid.startsWith("#!::")) return { resource: sid, publish: false };
  let resource = "";
  let publish = false;
  for (const kv of sid.slice(4).split(",")) {
    const eq = kv.indexOf("=");
    if (eq < 0) continue;
    const k = kv.slice(0, eq);
    const v = kv.slice(eq + 1);
    if (k === "r") resource = v;
    else if (k === "m") publish = v === "publish";
  }
  return { resource, publish };
}

export class SrtRelay {
  readonly server: SrtServer;
  private publishers = new Map<string, SrtConnection>();
  private players = new Map<string, Set<SrtConnection>>();
  /** Every payload received from publishers, per resource (when `record` is on). */
  readonly recorded = new Map<string, Uint8Array[]>();
  /** Stream ids seen, in connection order. */
  readonly streamIds: string[] = [];

  /** How long players stay after their publisher leaves. */
  playerLingerMs = 1500;

  constructor(opts: SrtServerOptions, private record = false) {
    this.server = new SrtServer(opts, {
      accept: (req) => {
        const { resource, publish } = parseRelayStreamId(req.streamId);
        if (resource === "") return { reject: 1400, reason: "no resource in stream id" };
        if (publish && this.publishers.has(resource)) return { reject: 1409, reason: "already publishing" };
        return true;
      },
    });
    this.server.onConnection((c) => this.add(c));
  }

  private add(c: SrtConnection): void {
    this.streamIds.push(c.streamId);
    const { resource, publish } = parseRelayStreamId(c.streamId);
    if (publish) {
      this.publishers.set(resource, c);
      const rec = this.record ? (this.recorded.get(resource) ?? []) : null;
      if (rec) this.recorded.set(resource, rec);
      c.onData((p) => {
        if (rec) rec.push(p.slice());
        const ps = this.players.get(resource);
        if (ps) for (const pl of ps) pl.send(p);
      });
      c.onClose(() => {
        if (this.publishers.get(resource) !== c) return;
        this.publishers.delete(resource);
        // Let players drain what is in flight, then end them too.
        const ps = this.players.get(resource);
        if (ps && ps.size) {
          const list = [...ps];
          setTimeout(() => {
            for (const pl of list) pl.close("publisher left");
          }, this.playerLingerMs);
        }
      });
    } else {
      let set = this.players.get(resource);
      if (!set) {
        set = new Set();
        this.players.set(resource, set);
      }
      set.add(c);
      c.onClose(() => set.delete(c));
    }
  }

  playerCount(resource: string): number {
    return this.players.get(resource)?.size ?? 0;
  }

  publisher(resource: string): SrtConnection | undefined {
    return this.publishers.get(resource);
  }

  async listen(): Promise<number> {
    return (await this.server.listen()).port;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

if (import.meta.main) {
  const port = Number(process.argv[2] ?? 10080);
  const latency = Number(process.argv[3] ?? 120);
  const passphrase = process.argv[4];
  const log = new Log(new LogSink({ level: "trace" }), "srtrelay");
  const relay = new SrtRelay({ port, host: "0.0.0.0", latency, log, passphrase, pbkeylen: 0 });
  await relay.listen();
}
