/**
 * Pulling a stream over RTMP for an edge: our client plays the URL (following RTMP 302 redirects, see
 * client.ts connectPlay) and hands every audio/video message and onMetaData as an FLV tag body with its
 * timestamp unwrapped past 32 bits (RTMP 1.0 section 5.3.1.1: timestamps wrap). The shape it returns is the
 * edge's PullUpstream (lib/services/cluster/upstream.ts), matched structurally: protocols import no service.
 */
import type { Log } from "../../log/logger.ts";
import { RtmpClient } from "./client.ts";
import { RtmpTagReader } from "./media-tags.ts";

export interface RtmpPullRequest {
  url: string;
  timeoutMs: number;
  connectArgs?: (localAddress: string) => Record<string, string | number>;
  onTag(kind: "audio" | "video" | "data", timestamp: number, body: Uint8Array): void;
  onRedirect?(to: string): void;
  log: Log;
}

export interface RtmpPull {
  readonly url: string;
  readonly closed: Promise<string>;
  destroy(): void;
}

export async function rtmpPull(req: RtmpPullRequest): Promise<RtmpPull> {
  let url = req.url;
  const tags = new RtmpTagReader();
  let destroyed = false;
  const client = await RtmpClient.connectPlay(req.url, {
    log: req.log,
    timeoutMs: req.timeoutMs,
    connectArgs: req.connectArgs,
    onRedirect: (to) => {
      url = to;
      req.onRedirect?.(to);
    },
    onMessage: (m) => {
      const kind = tags.read(m);
      if (kind !== undefined) req.onTag(kind, tags.timestamp, tags.body);
    },
  });
  const closed = client.closed.then(() => (destroyed ? "closed by us" : client.lastError || "connection closed by the origin"));
  return {
    url,
    closed,
    destroy: () => {
      destroyed = true;
      client.destroy();
    },
  };
}
