// Shared by the embedded pages: where the server's services are (/console/config.json), the URLs of a stream,
// the HTTP API client (another port is fine: CORS is on by default; basic auth when http_api.auth is on),
// formatting and clipboard helpers. Plain ES module, no dependencies.

const DEFAULTS = { http: 8080, api: 1985, https: null, https_api: null, rtmp: 1935, rtc: 8000, srt: 10080, auth: false, version: "", srs: "" };
let configPromise;

/** The server's ports, from /console/config.json (served by srs-ts); SRS's defaults when it is missing. */
export function loadConfig() {
  configPromise ??= (async () => {
    try {
      const res = await fetch("/console/config.json", { cache: "no-store", signal: AbortSignal.timeout(3000) });
      if (res.ok) return { ...DEFAULTS, known: true, ...(await res.json()) };
    } catch { /* not srs-ts, or offline */ }
    const http = Number(location.port) || (location.protocol === "https:" ? 443 : 80);
    return { ...DEFAULTS, http, known: false };
  })();
  return configPromise;
}

/** The host the page was loaded from (the server, as the user reaches it). */
export function host() {
  return location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
}

/** Whether the page was loaded over HTTPS (its URLs then stay on HTTPS: http_server.https, http_api.https). */
const secure = () => location.protocol === "https:";

function origin(port, scheme = secure() ? "https:" : "http:") {
  const std = scheme === "https:" ? 443 : 80;
  return `${scheme}//${host()}${port && port !== std ? ":" + port : ""}`;
}

/**
 * The API's origin: the page's own when the API shares the page's port, else the same host on the API port (its
 * HTTPS port when the page is on HTTPS).
 */
export function apiOrigin(cfg) {
  const own = Number(location.port) || (secure() ? 443 : 80);
  const port = secure() ? cfg.https_api : cfg.api;
  if (!port || port === own) return location.origin;
  return origin(port);
}

/** The HTTP server's origin (streams, pages): its HTTPS port when the page is on HTTPS. */
export function httpOrigin(cfg) {
  const own = Number(location.port) || (secure() ? 443 : 80);
  const port = secure() ? cfg.https || own : cfg.http;
  return port === own ? location.origin : origin(port);
}

/** Every URL a stream is reachable at, given its vhost name, app and stream name. */
export function streamUrls(cfg, { vhost = "__defaultVhost__", app = "live", stream = "livestream" } = {}) {
  const h = host();
  const named = vhost && vhost !== "__defaultVhost__";
  const q = named ? `?vhost=${encodeURIComponent(vhost)}` : "";
  const path = `/${app}/${stream}`;
  const http = httpOrigin(cfg);
  const api = apiOrigin(cfg);
  const rtmpPort = cfg.rtmp && cfg.rtmp !== 1935 ? `:${cfg.rtmp}` : "";
  const apiPort = cfg.api && cfg.api !== 1985 ? `:${cfg.api}` : "";
  const params = new URLSearchParams({ app, stream });
  if (named) params.set("vhost", vhost);
  const srtId = (m) => `#!::${named ? `h=${vhost},` : ""}r=${app}/${stream},m=${m}`;
  const u = {
    rtmp: `rtmp://${h}${rtmpPort}${path}${q}`,
    flv: `${http}${path}.flv${q}`,
    ts: `${http}${path}.ts${q}`,
    hls: `${http}${path}.m3u8${q}`,
    dash: (cfg.dash ?? []).includes(vhost || "__defaultVhost__") ? `${http}${path}.mpd` : "",
    webrtc: `webrtc://${h}${apiPort}${path}${q}`,
    whep: `${api}/rtc/v1/whep/?${params}`,
    whip: `${api}/rtc/v1/whip/?${params}`,
    srt: cfg.srt ? `srt://${h}:${cfg.srt}?streamid=${srtId("request")}` : "",
    srtPublish: cfg.srt ? `srt://${h}:${cfg.srt}?streamid=${srtId("publish")}` : "",
  };
  const p = (page, extra) => {
    const s = new URLSearchParams({ autostart: "true", app, stream: extra });
    if (named) s.set("vhost", vhost);
    return `${http}/players/${page}?${s}`;
  };
  u.players = {
    flv: p("srs_player.html", `${stream}.flv`),
    hls: p("srs_player.html", `${stream}.m3u8`),
    dash: p("srs_player.html", `${stream}.mpd`),
    ts: p("srs_player.html", `${stream}.ts`),
    rtc: p("rtc_player.html", stream),
    whep: p("whep.html", stream),
  };
  // A page on plain HTTP also lists the HTTPS URLs when http_server.https is on (a page on HTTPS has them above).
  if (!secure() && cfg.https) {
    const hs = origin(cfg.https, "https:");
    const as = cfg.https_api ? origin(cfg.https_api, "https:") : "";
    const page = (file, extra) => `${hs}/players/${file}?${new URLSearchParams({ ...(named ? { vhost } : {}), app, stream: extra })}`;
    u.https = {
      flv: `${hs}${path}.flv${q}`,
      hls: `${hs}${path}.m3u8${q}`,
      ts: `${hs}${path}.ts${q}`,
      whep: as ? `${as}/rtc/v1/whep/?${params}` : "",
      whip: as ? `${as}/rtc/v1/whip/?${params}` : "",
      players: { flv: `${page("srs_player.html", `${stream}.flv`)}&autostart=true`, hls: `${page("srs_player.html", `${stream}.m3u8`)}&autostart=true`, whip: page("whip.html", stream) },
    };
  }
  return u;
}

// ---------------------------------------------------------------------------------------------------------------
// API client

const CRED_KEY = "srs-ts.api.auth";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** Talks to /api/v1 at `base`; remembers basic-auth credentials for the tab (sessionStorage). */
export class Api {
  constructor(base) {
    this.base = base;
    this.auth = sessionStorage.getItem(CRED_KEY) || "";
  }

  setCredentials(user, pass) {
    this.auth = user || pass ? "Basic " + btoa(unescape(encodeURIComponent(`${user}:${pass}`))) : "";
    if (this.auth) sessionStorage.setItem(CRED_KEY, this.auth);
    else sessionStorage.removeItem(CRED_KEY);
  }

  async request(path, method = "GET") {
    const headers = this.auth ? { Authorization: this.auth } : {};
    let res;
    try {
      res = await fetch(this.base + path, { method, headers, cache: "no-store", signal: AbortSignal.timeout(5000) });
    } catch (e) {
      const why = this.auth && this.base !== location.origin
        ? "the API did not answer (with credentials, a browser needs the API on this page's port or CORS allowing Authorization)"
        : `the API at ${this.base} did not answer`;
      throw new ApiError(why, 0);
    }
    if (res.status === 401) throw new ApiError("credentials required", 401);
    if (!res.ok) throw new ApiError(`HTTP ${res.status}`, res.status);
    const body = await res.json();
    if (body.code !== 0) throw new ApiError(`API error code ${body.code}`, res.status);
    return body;
  }

  get(path) {
    return this.request(path);
  }

  del(path) {
    return this.request(path, "DELETE");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function fmtDuration(seconds) {
  seconds = Math.max(0, Math.floor(seconds || 0));
  const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

export function fmtKbps(kbps) {
  if (kbps == null || !isFinite(kbps)) return "–";
  if (kbps >= 10000) return `${(kbps / 1000).toFixed(1)} Mbps`;
  if (kbps >= 1000) return `${(kbps / 1000).toFixed(2)} Mbps`;
  return `${Math.round(kbps)} kbps`;
}

export function fmtBytes(bytes) {
  if (bytes == null) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
  return `${bytes.toFixed(i && bytes < 10 ? 1 : 0)} ${units[i]}`;
}

/** document.createElement with attributes/properties and children. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

let toastTimer;
export function toast(text) {
  let t = document.querySelector(".toast");
  if (!t) document.body.append((t = el("div", { class: "toast", role: "status" })));
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove("show"), 1400);
}

/** Copies text; navigator.clipboard needs a secure origin, so fall back to a hidden textarea. */
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = el("textarea", { style: "position:fixed;opacity:0" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  toast("Copied");
}

/** A row of `label  <code>url</code>  [Copy] [Play]` for a .urls grid. */
export function urlRow(label, url, playHref) {
  if (!url) return [];
  return [
    el("span", { class: "k" }, label),
    el("code", {}, url),
    el("span", { class: "actions" },
      el("button", { type: "button", onclick: () => copy(url), title: `Copy ${label} URL` }, "Copy"),
      playHref ? el("a", { class: "button", href: playHref, target: "_blank", rel: "noopener" }, "Play") : null),
  ];
}
