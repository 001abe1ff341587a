/**
 * Pulling a stream over HTTP-FLV for an edge (`cluster { protocol flv|flvs; }`, SRS SrsEdgeFlvUpstream): GET
 * the origin's `/app/stream.flv`, follow redirects (at most 3: RFC 9110 section 15.4), read FLV tags (FLV 10.1
 * annex E) and hand each audio, video and script tag body with its timestamp. 404 means the origin does not have
 * the stream. Memory is bounded by the FLV demuxer (one tag at most 16 MiB). The shape it returns is the edge's
 * PullUpstream (lib/services/cluster/upstream.ts), matched structurally.
 */
import { FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, FlvDemuxer } from "../../formats/flv.ts";
import type { Log } from "../../log/logger.ts";
import { SERVER_SIGNATURE } from "../../version.ts";

export const MAX_HTTP_REDIRECTS = 3;

export interface FlvPullRequest {
  url: string;
  timeoutMs: number;
  onTag(kind: "audio" | "video" | "data", timestamp: number, body: Uint8Array): void;
  onRedirect?(to: string): void;
  log: Log;
}

export interface FlvPull {
  readonly url: string;
  readonly closed: Promise<string>;
  destroy(): void;
}

export class FlvPullError extends Error {}

export async function flvPull(req: FlvPullRequest): Promise<FlvPull> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), req.timeoutMs);
  let url = req.url;
  let res: Response;
  try {
    for (let hop = 0;; hop++) {
      res = await fetch(url, { redirect: "manual", signal: abort.signal, headers: { "User-Agent": SERVER_SIGNATURE } });
      if (res.status >= 300 && res.status < 400) {
        const loc = res.headers.get("location");
        await res.body?.cancel().catch(() => {});
        if (!loc) throw new FlvPullError(`${url}: HTTP ${res.status} without Location`);
        if (hop >= MAX_HTTP_REDIRECTS) throw new FlvPullError(`${url}: too many redirects (more than ${MAX_HTTP_REDIRECTS})`);
        url = new URL(loc, url).href;
        req.onRedirect?.(url);
        continue;
      }
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        throw new FlvPullError(`${url}: stream not found (HTTP 404)`);
      }
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new FlvPullError(`${url}: HTTP ${res.status}`);
      }
      break;
    }
  } catch (e) {
    clearTimeout(timer);
    if (abort.signal.aborted) throw new FlvPullError(`${url}: no answer within ${req.timeoutMs} ms`);
    throw e instanceof FlvPullError ? e : new FlvPullError(`${url}: ${(e as Error).message}`);
  }
  clearTimeout(timer);
  const reader = res.body.getReader();
  const demux = new FlvDemuxer();
  let destroyed = false;
  const closed = (async (): Promise<string> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return "the origin ended the response";
        for (const tag of demux.push(value)) {
          if (tag.type === FLV_TAG_VIDEO) req.onTag("video", tag.timestamp, tag.data);
          else if (tag.type === FLV_TAG_AUDIO) req.onTag("audio", tag.timestamp, tag.data);
          else if (tag.type === FLV_TAG_SCRIPT) req.onTag("data", tag.timestamp, tag.data);
        }
      }
    } catch (e) {
      return destroyed ? "closed by us" : `read failed: ${(e as Error).message}`;
    } finally {
      abort.abort();
    }
  })();
  return {
    url,
    closed,
    destroy: () => {
      destroyed = true;
      abort.abort();
      reader.cancel().catch(() => {});
    },
  };
}
