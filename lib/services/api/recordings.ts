/**
 * srs-ts's recordings API (issue #21; under the API's auth like every /api/ path):
 *  - GET /api/v1/recordings[?vhost=&app=&stream=] → {"recordings":[{id,vhost,app,stream,start,duration,size,url,…}]}
 *    (start: epoch ms, duration: s, url: the file on the HTTP server when it lies under http_server.dir, else
 *    /api/v1/recordings/<id>/file; `served_by` says which);
 *  - GET|HEAD /api/v1/recordings/<id>/file → the file with Range (lib/protocols/http/static-file.ts);
 *  - DELETE /api/v1/recordings/<id> → {"code":0}, or {"code":ERROR_RECORDING_NOT_FOUND}.
 */
import { statSync } from "node:fs";
import type { SrsConfig } from "../../config/index.ts";
import type { Log } from "../../log/logger.ts";
import { serveFile } from "../../protocols/http/static-file.ts";
import { deleteRecording, listRecordings, type Recording } from "../dvr/recordings.ts";

/** srs-ts's own error code: no recording has that id. */
export const ERROR_RECORDING_NOT_FOUND = 4040;

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
export function recordingsRoute(api: RecordingsApi, req: Request, method: string, rest: string[], url: URL): Response {
  const [id = "", sub = "", ...more] = rest;
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
