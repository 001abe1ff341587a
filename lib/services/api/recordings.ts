/**
 * srs-ts's recordings API (issue #21; under the API's auth like every /api/ path):
 *  - GET /api/v1/recordings[?vhost=&app=&stream=] → {"recordings":[{id,vhost,app,stream,start,duration,size,url,…}]}
 *    (start: epoch ms, duration: s, url: the file on the HTTP server when it lies under http_server.dir, else
 *    /api/v1/recordings/<id>/file; `served_by` says which);
 *  - GET|HEAD /api/v1/recordings/<id>/file → the file with Range (lib/net/static-file.ts);
 *  - DELETE /api/v1/recordings/<id> → {"code":0}, or {"code":ERROR_RECORDING_NOT_FOUND};
 *  - GET /api/v1/recordings/range?vhost=&app=&stream=&start=<ISO or epoch ms>&duration=<s> → one MP4 of that
 *    range, stitched from the stream's recordings without re-encoding (dvr/stitch.ts), or
 *    {"code":ERROR_RECORDING_RANGE,"error":why}.
 * DVR's recording list and stitcher (with the MP4 muxer and reader) are imported on the first request: a server
 * that never records nor lists recordings does not keep them in memory (lib/services/on-demand.ts).
 */
import { statSync } from "node:fs";
import type { SrsConfig } from "../../config/index.ts";
import type { Log } from "../../log/logger.ts";
import { serveFile } from "../../net/static-file.ts";
import type { Recording } from "../dvr/recordings.ts";

/** srs-ts's own error code: no recording has that id. */
export const ERROR_RECORDING_NOT_FOUND = 4040;
/** srs-ts's own error code: a time range that cannot be served (bad parameters, nothing recorded, too long). */
export const ERROR_RECORDING_RANGE = 4041;

export interface RecordingsApi {
  config: SrsConfig;
  log: Log;
  json(req: Request, body: Record<string, unknown>): Response;
  text(req: Request, status: number, body: string): Response;
}

export function recordingJson(r: Recording): Record<string, unknown> {
  return {
    id: r.id, vhost: r.vhost, app: r.app, stream: r.stream, start: r.start, duration: r.duration, size: r.size,
    format: r.format, url: r.httpPath ?? `/api/v1/recordings/${r.id}/file`, served_by: r.httpPath ? "http" : "api",
    name: r.path.split(/[\\/]/).pop() ?? "",
  };
}

/** The answer to /api/v1/recordings[/<id>[/file]] (`rest`: the path parts after "recordings"). */
export async function recordingsRoute(api: RecordingsApi, req: Request, method: string, rest: string[], url: URL): Promise<Response> {
  const [id = "", sub = "", ...more] = rest;
  if (id === "range" && !sub) return await rangeMp4(api, req, method, url);
  const { deleteRecording, listRecordings } = await import("../dvr/recordings.ts");
  if (!id) {
    if (method !== "GET") return api.text(req, 405, "Method Not Allowed");
    const q = url.searchParams;
    const list = listRecordings(api.config, { vhost: q.get("vhost") || undefined, app: q.get("app") || undefined, stream: q.get("stream") || undefined });
    return api.json(req, { recordings: list.map(recordingJson) });
  }
  if (more.length) return api.text(req, 404, "Not Found");
  if (sub === "file") {
    if (method !== "GET" && method !== "HEAD") return api.text(req, 405, "Method Not Allowed");
    const r = listRecordings(api.config).find((x) => x.id === id);
    if (!r) return api.text(req, 404, "Not Found");
    try {
      const st = statSync(r.path);
      return serveFile(req, r.path, { size: st.size, mtimeMs: st.mtimeMs });
    } catch {
      return api.text(req, 404, "Not Found");
    }
  }
  if (sub) return api.text(req, 404, "Not Found");
  if (method === "DELETE") {
    const r = deleteRecording(api.config, id);
    if (!r) return api.json(req, { code: ERROR_RECORDING_NOT_FOUND });
    api.log.trace(`http api: deleted recording ${r.path}`);
    return api.json(req, {});
  }
  if (method !== "GET") return api.text(req, 405, "Method Not Allowed");
  const r = listRecordings(api.config).find((x) => x.id === id);
  return r ? api.json(req, { recording: recordingJson(r) }) : api.json(req, { code: ERROR_RECORDING_NOT_FOUND });
}

async function rangeMp4(api: RecordingsApi, req: Request, method: string, url: URL): Promise<Response> {
  if (method !== "GET") return api.text(req, 405, "Method Not Allowed");
  const [{ listRecordings }, { parseStart, StitchError, stitchRange }] = await Promise.all([
    import("../dvr/recordings.ts"),
    import("../dvr/stitch.ts"),
  ]);
  const q = url.searchParams;
  const start = parseStart(q.get("start"));
  const duration = Number(q.get("duration"));
  const app = q.get("app") ?? "";
  const stream = q.get("stream") ?? "";
  if (start === undefined || !Number.isFinite(duration) || !app || !stream) {
    return api.json(req, { code: ERROR_RECORDING_RANGE, error: "needs app, stream, start (ISO 8601 or epoch ms) and duration (s)" });
  }
  const vhost = q.get("vhost") || "__defaultVhost__";
  const recs = listRecordings(api.config, { vhost, app, stream });
  try {
    const r = await stitchRange(recs, start, duration * 1000);
    api.log.trace(`http api: range ${vhost}/${app}/${stream} from ${new Date(start).toISOString()} for ${duration} s: ${r.files.length} files, ${r.mp4.byteLength} bytes`);
    const h = new Headers({
      "Content-Type": "video/mp4",
      "Content-Disposition": `inline; filename="${stream.replace(/[^\w.-]/g, "_")}-${start}.mp4"`,
      "Content-Length": String(r.mp4.byteLength),
    });
    return new Response(r.mp4 as Uint8Array<ArrayBuffer>, { status: 200, headers: h });
  } catch (e) {
    if (e instanceof StitchError) return api.json(req, { code: ERROR_RECORDING_RANGE, error: e.message });
    throw new Error(`recordings range ${vhost}/${app}/${stream}: ${(e as Error).message}`);
  }
}
