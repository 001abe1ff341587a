/**
 * A connection publishing one stream to another server: today our RTMP client (lib/protocols/rtmp/client.ts),
 * given by the composition root, so the services that push (forward, the edge's publish relay, the casters)
 * import no protocol (an SRT or RTSP push would be another).
 */
export interface Upstream {
  /** Starts publishing (the stream named by the URL it was connected with). */
  publish(): Promise<void>;
  /** Sends one FLV tag body; false when the caller should wait for drain(). */
  sendMedia(kind: "audio" | "video" | "data", timestamp: number, payload: Uint8Array): boolean;
  drain(): Promise<void>;
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;
  destroy(): void;
}

/** Connects to a destination URL (rejects on failure or after `timeoutMs`). */
export type UpstreamConnector = (url: string, opts: { timeoutMs: number }) => Promise<Upstream>;
