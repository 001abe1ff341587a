/**
 * SRT stream ids as SRS reads them (SRT AccessControl.md "#!::" syntax, SRS's srt url wiki):
 *
 *   #!::r=app/stream,m=publish|request[,h=vhost][,key=value...]
 *   #!::h=app/stream,m=...                legacy: `h` holding the path
 *   #!::h=vhost/app/stream,m=...          legacy: `h` holding vhost and path
 *   app/stream                            no "#!::": the path itself (mode request)
 *   stream                                no "#!::", no "/": default_app/stream
 *   (empty)                               as "#!::r=live/livestream,m=publish"
 *
 * `?` inside is read as `,` (so `#!::r=live/s?secret=x,m=publish` works). Keys other than r/h/m become the request
 * parameters, `?key1=value1&key2=value2` (the RTMP-style query hooks and the API see), with `vhost=<h>` first when a
 * vhost was named. The mode defaults to request (play); any other mode than publish/request is an error.
 */

export class SrtStreamIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SrtStreamIdError";
  }
}

export type SrtMode = "publish" | "request";

export interface SrtStreamId {
  mode: SrtMode;
  /** The vhost named by `h` (or the legacy 3-part `h`), "" when none: the caller resolves it through the config. */
  vhost: string;
  app: string;
  stream: string;
  /** `?key=value&...` of the other keys (with `vhost=` first when a vhost was named), or "". */
  param: string;
}

export const SRT_STREAMID_PREFIX = "#!::";
const EMPTY_STREAMID = "#!::r=live/livestream,m=publish";

/** Splits `app/.../stream`: the stream is the last part, the app the rest (default app when there is one part). */
function splitPath(path: string, defaultApp: string): { app: string; stream: string } {
  const p = path.replace(/^\/+/, "");
  const slash = p.lastIndexOf("/");
  if (slash < 0) return { app: defaultApp, stream: p };
  return { app: p.slice(0, slash), stream: p.slice(slash + 1) };
}

export function parseSrtStreamId(streamId: string, defaultApp = "live"): SrtStreamId {
  let sid = streamId.trim();
  if (sid === "") sid = EMPTY_STREAMID;
  if (!sid.startsWith(SRT_STREAMID_PREFIX)) {
    const q = sid.indexOf("?");
    const path = q >= 0 ? sid.slice(0, q) : sid;
    const { app, stream } = splitPath(path, defaultApp);
    if (!app || !stream) throw new SrtStreamIdError(`streamid "${streamId}": empty app or stream`);
    const query = q >= 0 ? sid.slice(q + 1) : "";
    return { mode: "request", vhost: "", app, stream, param: query ? `?${query}` : "" };
  }
  let mode: SrtMode = "request";
  let h: string | undefined;
  let r: string | undefined;
  const extra: string[] = [];
  for (const item of sid.slice(SRT_STREAMID_PREFIX.length).replace(/\?/g, ",").split(",")) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    const value = eq < 0 ? "" : item.slice(eq + 1).trim();
    if (key === "m") {
      if (value === "publish" || value === "request") mode = value;
      else throw new SrtStreamIdError(`streamid "${streamId}": invalid mode "${value}"`);
    } else if (key === "h") h = value;
    else if (key === "r") r = value;
    else if (key !== "") extra.push(eq < 0 ? key : `${key}=${value}`);
  }
  let vhost = "";
  let path: { app: string; stream: string };
  if (r !== undefined) {
    path = splitPath(r, defaultApp);
    vhost = h ?? "";
  } else if (h !== undefined && h.includes("/")) {
    // legacy: h=app/stream or h=vhost/app/stream
    const parts = h.replace(/^\/+|\/+$/g, "").split("/");
    if (parts.length >= 3) {
      vhost = parts[0]!;
      path = { app: parts.slice(1, -1).join("/"), stream: parts[parts.length - 1]! };
    } else path = splitPath(h, defaultApp);
  } else {
    throw new SrtStreamIdError(`streamid "${streamId}": no resource (r=app/stream)`);
  }
  if (!path.app || !path.stream) throw new SrtStreamIdError(`streamid "${streamId}": empty app or stream`);
  if (vhost) extra.unshift(`vhost=${vhost}`);
  return { mode, vhost, app: path.app, stream: path.stream, param: extra.length ? `?${extra.join("&")}` : "" };
}
