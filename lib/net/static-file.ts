/**
 * One file from `http_server.dir` as an HTTP response, streamed from disk (lib/runtime/file-body.ts), with the
 * parts of HTTP a player needs to seek a large recording and a browser needs to cache it:
 *  - Range (RFC 9110 14.2): one byte range answers 206 with Content-Range; a range that starts past the end
 *    answers 416 with `Content-Range: bytes * /size`; several ranges, another unit or a malformed header get
 *    the whole file (200), which RFC 9110 allows ("a server MAY ignore the Range header field");
 *  - If-Range (13.1.5): the range is honoured only while the file is the one the client saw;
 *  - validators (8.8): Last-Modified and a strong ETag made of mtime and size, and the conditional requests of
 *    13.1 in the order of 13.2.2 (If-Match, If-Unmodified-Since → 412; If-None-Match, If-Modified-Since → 304);
 *  - HEAD: the same headers, no body.
 * https://www.rfc-editor.org/rfc/rfc9110
 */
import { SERVER_SIGNATURE } from "../version.ts";
import { assetContentType } from "../runtime/assets.ts";
import { fileBody } from "../runtime/file-body.ts";

export interface FileInfo {
  size: number;
  mtimeMs: number;
}

/** Bytes [start, end) of a representation. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The one byte range a Range header asks of `size` bytes: a range, "unsatisfiable" (416), or undefined when
 * the header is to be ignored (another unit, several ranges, bad syntax) and the whole file served.
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m) return undefined;
  const specs = m[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return undefined;
  const r = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!r || (r[1] === "" && r[2] === "")) return undefined;
  if (r[1] === "") {
    // suffix-range: the last N bytes (14.1.2)
    const n = Number(r[2]);
    if (n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size };
  }
  const first = Number(r[1]);
  const last = r[2] === "" ? Infinity : Number(r[2]);
  if (last < first) return undefined; // invalid range-spec: the field is ignored
  if (first >= size) return "unsatisfiable";
  return { start: first, end: Math.min(last + 1, size) };
}

/** The strong validator of a file: its modification time and size (both change when a recording grows). */
export function fileEtag(st: FileInfo): string {
  return `"${Math.floor(st.mtimeMs).toString(16)}-${st.size.toString(16)}"`;
}

/** HTTP dates have one-second resolution: compare file times in whole seconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function parseDate(v: string | null): number | undefined {
  if (v === null) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : seconds(t);
}

/** Entity tags of an If-Match/If-None-Match list; "*" matches any. `weak` compares ignoring W/ (8.8.3.2). */
function etagMatches(list: string, etag: string, weak: boolean): boolean {
  if (list.trim() === "*") return true;
  const bare = (t: string) => (weak ? t.replace(/^W\//, "") : t);
  return list.split(",").some((t) => {
    const x = t.trim();
    if (!weak && x.startsWith("W/")) return false;
    return bare(x) === bare(etag);
  });
}

/** The preconditions of RFC 9110 13.2.2 for a GET/HEAD: 412, 304, or undefined (go on). */
export function checkPreconditions(h: Headers, etag: string, mtimeMs: number): 304 | 412 | undefined {
  const mtime = seconds(mtimeMs);
  const ifMatch = h.get("if-match");
  if (ifMatch !== null) {
    if (!etagMatches(ifMatch, etag, false)) return 412;
  } else {
    const ius = parseDate(h.get("if-unmodified-since"));
    if (ius !== undefined && mtime > ius) return 412;
  }
  const inm = h.get("if-none-match");
  if (inm !== null) {
    if (etagMatches(inm, etag, true)) return 304;
  } else {
    const ims = parseDate(h.get("if-modified-since"));
    if (ims !== undefined && mtime <= ims) return 304;
  }
  return undefined;
}

/** If-Range (13.1.5): true when the range may be served (no If-Range, or it names the current file). */
function ifRangeHolds(h: Headers, etag: string, mtimeMs: number): boolean {
  const v = h.get("if-range");
  if (v === null) return true;
  const t = v.trim();
  if (t.startsWith('"') || t.startsWith("W/")) return t === etag; // strong comparison only
  const d = parseDate(t);
  return d !== undefined && d === seconds(mtimeMs);
}

/** The response to a GET or HEAD of the file at `path` (already checked to be a regular file inside the dir). */
export function serveFile(req: Request, path: string, st: FileInfo): Response {
  const etag = fileEtag(st);
  const validators = {
    ETag: etag,
    "Last-Modified": new Date(seconds(st.mtimeMs) * 1000).toUTCString(),
    Server: SERVER_SIGNATURE,
  };
  const pre = checkPreconditions(req.headers, etag, st.mtimeMs);
  if (pre === 304) return new Response(null, { status: 304, headers: validators });
  if (pre === 412) return new Response(null, { status: 412, headers: { ...validators, "Content-Length": "0" } });

  const headers: Record<string, string> = {
    ...validators,
    "Content-Type": assetContentType(path),
    "Accept-Ranges": "bytes",
  };
  let range: ByteRange = { start: 0, end: st.size };
  let status = 200;
  const rangeHeader = req.headers.get("range");
  if (rangeHeader !== null && ifRangeHolds(req.headers, etag, st.mtimeMs)) {
    const r = parseRange(rangeHeader, st.size);
    if (r === "unsatisfiable") {
      headers["Content-Range"] = `bytes */${st.size}`;
      headers["Content-Length"] = "0";
      return new Response(null, { status: 416, headers });
    }
    if (r) {
      range = r;
      status = 206;
      headers["Content-Range"] = `bytes ${r.start}-${r.end - 1}/${st.size}`;
    }
  }
  headers["Content-Length"] = String(range.end - range.start);
  const body = req.method === "HEAD" || range.end === range.start ? null : fileBody(path, range.start, range.end);
  return new Response(body, { status, headers });
}
