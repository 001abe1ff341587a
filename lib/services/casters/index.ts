/**
 * The stream casters of a server (SRS: the SrsServer listeners of each `stream_caster` block): one running
 * instance per enabled block whose `caster` is a known kind (registry.ts). Started from lib/server.ts; a reload
 * (reload.ts) stops the blocks that went away or changed and starts the new ones, keeping the unchanged ones
 * and their sessions. A block whose port cannot be bound fails alone: the others run.
 */
import type { StreamCasterConfig } from "../../config/cluster.ts";
import { portOf } from "../../net/endpoint.ts";
import type { Gb28181Caster } from "./gb28181.ts";
import { CASTER_KINDS, type CasterInstance } from "./registry.ts";
import type { CasterPorts, CasterSession } from "./session.ts";

export type { CasterPorts } from "./session.ts";

/** A block's identity: any change of its settings is a new caster. */
function keyOf(c: StreamCasterConfig): string {
  return JSON.stringify([c.caster, c.listen, c.output, c.sip]);
}

export interface CasterChange {
  what: string;
  ok: boolean;
  note: string;
}

export class CasterService {
  private running = new Map<string, CasterInstance>();

  /** `firstWorker`: false in workers 2..N (the UDP casters run in worker 1 only). */
  constructor(private ctx: CasterPorts, private firstWorker = true) {}

  /** The running casters (the API). */
  get casters(): CasterInstance[] {
    return [...this.running.values()];
  }

  sessions(): CasterSession[] {
    return this.casters.flatMap((c) => c.sessions());
  }

  /** The blocks this process runs. */
  private wanted(configs: readonly StreamCasterConfig[]): Map<string, StreamCasterConfig> {
    const out = new Map<string, StreamCasterConfig>();
    for (const c of configs) {
      const kind = CASTER_KINDS[c.caster];
      if (!c.enabled || !kind) continue;
      if (kind.firstWorkerOnly && !this.firstWorker) continue;
      out.set(keyOf(c), c);
    }
    return out;
  }

  /** Starts every enabled caster; throws on the first that cannot listen (a start fails as a whole). */
  async start(): Promise<void> {
    for (const c of this.ctx.config.streamCasters()) {
      if (c.enabled && !CASTER_KINDS[c.caster]) {
        this.ctx.log.warn(`stream_caster: unknown caster "${c.caster}", ignored (SRS refuses to start with it)`);
      }
    }
    for (const [key, c] of this.wanted(this.ctx.config.streamCasters())) {
      await this.startOne(key, c);
    }
  }

  private async startOne(key: string, c: StreamCasterConfig): Promise<CasterInstance> {
    if (portOf(c.listen) < 0) throw new Error(`stream_caster ${c.caster}: invalid listen "${c.listen}"`);
    const inst = await CASTER_KINDS[c.caster]!.create(this.ctx, c);
    await inst.start();
    this.running.set(key, inst);
    return inst;
  }

  /** Applies the casters of the config now in force: stops the removed or changed ones, starts the new ones. */
  async apply(): Promise<CasterChange[]> {
    const want = this.wanted(this.ctx.config.streamCasters());
    const out: CasterChange[] = [];
    for (const [key, inst] of [...this.running]) {
      if (want.has(key)) continue;
      const n = inst.sessions().length;
      this.running.delete(key);
      await inst.stop("stream_caster removed by reload");
      out.push({ what: `${inst.kind} ${inst.conf.listen}`, ok: true, note: `stopped, ${n} sessions ended` });
    }
    for (const [key, c] of want) {
      if (this.running.has(key)) continue;
      try {
        const inst = await this.startOne(key, c);
        out.push({ what: `${c.caster} ${c.listen}`, ok: true, note: `listening on ${inst.port}` });
      } catch (e) {
        out.push({ what: `${c.caster} ${c.listen}`, ok: false, note: (e as Error).message });
      }
    }
    return out;
  }

  /**
   * SRS's `POST /gb/v1/publish/` (gb28181-without-sip.conf): an external SIP server announces that device `id`
   * will send RTP with `ssrc`; the first running gb28181 caster without SIP (else with) takes it.
   */
  gbPublish(id: string, ssrc: string): { port: number } | string {
    const gbs = this.casters.filter((c): c is Gb28181Caster => c.kind === "gb28181");
    const c = gbs.find((x) => !x.conf.sip.enabled) ?? gbs[0];
    if (!c) return "no gb28181 stream_caster";
    return c.publish(id, ssrc);
  }

  async stop(reason: string): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((c) => c.stop(reason)));
  }
}
