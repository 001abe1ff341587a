/**
 * The edge's ports to the network, given by the composition root (lib/server.ts) so this service imports no
 * protocol: a pull (RTMP play through lib/protocols/rtmp/pull.ts, or HTTP-FLV through
 * lib/protocols/http/flv-pull.ts), a push (the publish edge's relay: our RTMP client, as forward uses it) and
 * a probe (token_traverse: ask the origin whether a client may play/publish).
 */
import type { Log } from "../../log/logger.ts";
import type { UpstreamConnector } from "../forward/forwarder.ts";

/** What an upstream delivers: FLV tag bodies (RTMP audio/video/AMF0-data messages carry the same bytes). */
export type TagKind = "audio" | "video" | "data";

export interface PullRequest {
  /** rtmp://host:port/app/stream?query or http(s)://host:port/app/stream.flv?query */
  url: string;
  /** Connect (TCP, handshake, each command, HTTP response headers) timeout, ms. */
  timeoutMs: number;
  /** RTMP connect's optional user arguments (debug_srs_upnode), given the socket's local address. */
  connectArgs?: (localAddress: string) => Record<string, string | number>;
  /** Each tag as it arrives; `timestamp` in ms, already unwrapped past 32 bits. Metadata is onMetaData only. */
  onTag(kind: TagKind, timestamp: number, body: Uint8Array): void;
  /** A redirect (RTMP 302, HTTP 30x) was followed to `to`. */
  onRedirect?(to: string): void;
  log: Log;
}

/** A running pull: playing once the connector resolved. */
export interface PullUpstream {
  /** Where it plays from after redirects. */
  readonly url: string;
  /** Resolves with why the connection ended (closed by the origin, garbage, destroyed). */
  readonly closed: Promise<string>;
  destroy(): void;
}

export type PullConnector = (req: PullRequest) => Promise<PullUpstream>;

/** Asks an origin whether a client may `method` the stream `url` names (token_traverse); rejects when refused. */
export type ProbeConnector = (url: string, method: "play" | "publish", timeoutMs: number) => Promise<void>;

/** A probe's failure: `refused` when the origin answered no (as opposed to being unreachable). */
export class ProbeRefused extends Error {}

export interface EdgeConnectors {
  rtmp: PullConnector;
  flv: PullConnector;
  push: UpstreamConnector;
  probe: ProbeConnector;
}
