/**
 * Light players for edge tests: many of them cost little CPU (no decoding), each counts the video frames it
 * received and checks their timestamps never go back. A few ffmpeg decoders (server.ts playFrames) prove the
 * bytes decode.
 */
import { FLV_TAG_VIDEO, FlvDemuxer } from "../../lib/formats/flv.ts";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { MSG_VIDEO } from "../../lib/protocols/rtmp/messages.ts";

export interface LightReader {
  readonly kind: "rtmp" | "flv";
  /** Video frames received (sequence headers included). */
  frames: number;
  /** Times a video timestamp went backwards (must stay 0). */
  backwards: number;
  /** Largest step between consecutive video timestamps, ms. */
  maxStep: number;
  lastTs: number;
  /** Longest wall-clock wait between two video frames, ms (a failover's stall). */
  maxGapMs: number;
  lastAt: number;
  /** Set when the connection ended (a player that had to reconnect). */
  ended: boolean;
  error: string;
  close(): void;
}

function track(r: LightReader, ts: number): void {
  if (r.lastTs >= 0) {
    if (ts < r.lastTs) r.backwards++;
    r.maxStep = Math.max(r.maxStep, ts - r.lastTs);
  }
  r.lastTs = ts;
  const now = Date.now();
  if (r.lastAt > 0) r.maxGapMs = Math.max(r.maxGapMs, now - r.lastAt);
  r.lastAt = now;
  r.frames++;
}

/** An RTMP player counting video messages. Rejects when the play is refused. */
export async function rtmpReader(url: string, timeoutMs = 10000): Promise<LightReader> {
  const r: LightReader = {
    kind: "rtmp", frames: 0, backwards: 0, maxStep: 0, lastTs: -1, maxGapMs: 0, lastAt: 0, ended: false, error: "",
    close: () => {},
  };
  const c = await RtmpClient.connectPlay(url, {
    timeoutMs,
    onMessage: (m) => {
      if (m.type === MSG_VIDEO) track(r, m.timestamp);
    },
  });
  void c.closed.then(() => (r.ended = true));
  r.close = () => c.destroy();
  return r;
}

/** An HTTP-FLV player counting video tags. Rejects on a non-200 answer (with the status in the message). */
export async function flvReader(url: string, timeoutMs = 15000): Promise<LightReader> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const res = await fetch(url, { signal: abort.signal });
  clearTimeout(timer);
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const r: LightReader = {
    kind: "flv", frames: 0, backwards: 0, maxStep: 0, lastTs: -1, maxGapMs: 0, lastAt: 0, ended: false, error: "",
    close: () => abort.abort(),
  };
  const reader = res.body.getReader();
  const demux = new FlvDemuxer();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const t of demux.push(value)) if (t.type === FLV_TAG_VIDEO) track(r, t.timestamp);
      }
    } catch (e) {
      r.error = (e as Error).message;
    }
    r.ended = true;
  })();
  return r;
}

/** True when server `s` (its API) lists the stream `url` (e.g. "/live/s") with an active publisher. */
export async function streamLive(s: { api: number }, url: string): Promise<boolean> {
  try {
    const j = (await (await fetch(`http://127.0.0.1:${s.api}/api/v1/streams/?count=1000`)).json()) as {
      streams: { url: string; publish: { active: boolean } }[];
    };
    return j.streams.some((x) => x.url === url && x.publish.active);
  } catch {
    return false;
  }
}
