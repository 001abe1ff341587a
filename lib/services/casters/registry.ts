/**
 * The caster kinds (SRS's `stream_caster { caster NAME; }`), keyed by name: each kind is one file of this folder
 * that turns one input protocol into CasterSessions (session.ts). `gb28181` runs its SIP server and media port in
 * the protocol layer, handed in by the composition root (CasterPorts.gb28181); without SIP (`sip { enabled off; }`)
 * it is reported as not implemented (lib/config/unimplemented.ts) and not run.
 *
 * Each kind's module (and what it needs: the TS and PS demuxers, node:dgram, the SIP stack) is imported when a
 * caster of that kind starts, so a server without stream casters does not load them.
 */
import type { StreamCasterConfig } from "../../config/cluster.ts";
import type { CasterPorts, CasterSession } from "./session.ts";

/** One running `stream_caster` block. */
export interface CasterInstance {
  readonly kind: string;
  readonly conf: StreamCasterConfig;
  /** The port bound (0 before start). */
  readonly port: number;
  /** The sessions publishing now. */
  sessions(): CasterSession[];
  /** Binds the port; rejects with the reason when it cannot. */
  start(): Promise<void>;
  /** Ends the sessions (unpublish) and closes the port. */
  stop(reason: string): Promise<void>;
}

export interface CasterKind {
  create(ctx: CasterPorts, conf: StreamCasterConfig): Promise<CasterInstance>;
  /**
   * Under `workers N;`, whether the caster runs in worker 1 only. A UDP caster does: with SO_REUSEPORT the kernel
   * may hand one sender's datagrams to several workers (each would publish a broken half of the stream). A TCP
   * caster runs in every worker on the shared port (each connection lands in one worker, as RTMP does).
   */
  firstWorkerOnly: boolean;
}

export const CASTER_KINDS: Readonly<Record<string, CasterKind>> = {
  mpegts_over_udp: {
    create: async (ctx, conf) => new (await import("./mpegts-udp.ts")).MpegtsUdpCaster(ctx, conf),
    firstWorkerOnly: true,
  },
  flv: { create: async (ctx, conf) => new (await import("./flv-post.ts")).FlvPostCaster(ctx, conf), firstWorkerOnly: false },
  // the SIP dialog and the device's media connection must meet in one process
  gb28181: { create: async (ctx, conf) => new (await import("./gb28181.ts")).Gb28181Caster(ctx, conf), firstWorkerOnly: true },
};
