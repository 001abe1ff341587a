/**
 * The contract between a `caster gb28181` block (lib/services/casters/gb28181.ts, which publishes each device's
 * stream) and its engine, the SIP server and media port of the protocol layer (lib/protocols/gb28181/server.ts).
 * Services do not import protocols nor protocols services, so the one declaration lives here; the composition root
 * (lib/server.ts) hands the engine's factory to the casters.
 */
import type { Log } from "./log/logger.ts";
import type { MediaPacket } from "./media/packet.ts";

/** What a device's stream goes to (a CasterSession satisfies it). */
export interface GbSink {
  push(p: MediaPacket): void;
  addBytesIn(n: number): void;
  close(reason: string): void;
  onClose(cb: (reason: string) => void): void;
  readonly isClosed: boolean;
}

export interface GbEngineOptions {
  /** Host:port or port of the media port (`listen`). */
  mediaHost: string;
  mediaPort: number;
  sipHost: string;
  sipPort: number;
  /** The address put in SDP and Via (`sip.candidate`); "" or "*": the local address the device reached. */
  candidate: string;
  /** Seconds to wait for media after an INVITE (`sip.timeout`). */
  timeoutSec: number;
  /** Seconds before re-inviting a device whose media ended (`sip.reinvite`). */
  reinviteSec: number;
  /** Media idle this long ends the stream, ms. */
  mediaIdleMs: number;
  /** `sip.enabled`: off runs the media port only, the sessions made by bindSession (an external SIP server). */
  sip: boolean;
  log: Log;
  /** Opens the stream of a device; a string is why not. */
  openStream(o: { deviceId: string; ip: string; port: number }): Promise<GbSink | string>;
}

/** The GB28181 engine (SIP server + media port) of one block. */
export interface GbEngine {
  readonly boundMediaPort: number;
  readonly boundSipPort: number;
  start(): Promise<void>;
  stop(reason: string): Promise<void>;
  bindSession(id: string, ssrc: string): { port: number } | string;
  deviceList(): { id: string; state: string; transport: string; remote: string; ssrc: string; publishing: boolean }[];
}

/** Async: the protocol's modules are imported when the first gb28181 caster starts. */
export type GbEngineFactory = (o: GbEngineOptions) => Promise<GbEngine>;
