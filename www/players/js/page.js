// Shared by the player and publisher pages: SRS's query parameters (?autostart=true&app=&stream=&server=&port=
// &schema=&vhost=&api=), the default URLs built from them and the server's ports, and the stats cards.
import { el, loadConfig } from "/site.js";

export const query = new URLSearchParams(location.search);
export const autostart = query.get("autostart") === "true";
export const $ = (id) => document.getElementById(id);

/** Parameters as SRS's pages read them, with this server's ports as defaults. */
export async function target() {
  const cfg = await loadConfig();
  const schema = (query.get("schema") || location.protocol.replace(":", "")).replace(/:$/, "");
  const server = query.get("server") || location.hostname;
  const h = server.includes(":") ? `[${server}]` : server;
  const app = query.get("app") || "live";
  const stream = query.get("stream") || "livestream";
  const vhost = query.get("vhost") || "";
  // On HTTPS, the server's HTTPS ports (http_server.https; the API's over TLS), SRS's 8088/1990 when unknown.
  const port = Number(query.get("port")) || (schema === "https" ? cfg.https || 8088 : cfg.http);
  const api = Number(query.get("api")) || (schema === "https" ? cfg.https_api || 1990 : cfg.api || 1985);
  return { cfg, schema, server, h, app, stream, vhost, port, api };
}

function withPort(schema, h, port) {
  const std = schema === "https" ? 443 : 80;
  return `${schema}://${h}${port && port !== std ? `:${port}` : ""}`;
}

/** srs_player.html: the stream's HTTP URL; a stream without extension plays as .flv. */
export function httpStreamUrl(t) {
  const stream = /\.(flv|ts|m3u8|mpd)$/i.test(t.stream) ? t.stream : `${t.stream}.flv`;
  const q = t.vhost ? `?vhost=${encodeURIComponent(t.vhost)}` : "";
  return `${withPort(t.schema, t.h, t.port)}/${t.app}/${stream}${q}`;
}

/** The webrtc://host[:api]/app/stream URL of SRS's rtc_player and rtc_publisher (extra query kept, e.g. eip). */
export function webrtcUrl(t) {
  const extra = new URLSearchParams();
  for (const [k, v] of query) if (!["autostart", "app", "stream", "server", "port", "schema", "api", "url"].includes(k)) extra.set(k, v);
  const std = t.schema === "https" ? 1990 : 1985;
  const s = extra.toString();
  return `webrtc://${t.h}${t.api !== std ? `:${t.api}` : ""}/${t.app}/${t.stream.replace(/\.(flv|ts|m3u8|mpd)$/i, "")}${s ? `?${s}` : ""}`;
}

/** The WHIP or WHEP endpoint of whip.html / whep.html. */
export function whipUrl(t, kind) {
  const q = new URLSearchParams({ app: t.app, stream: t.stream.replace(/\.(flv|ts|m3u8|mpd)$/i, "") });
  if (t.vhost) q.set("vhost", t.vhost);
  return `${withPort(t.schema, t.h, t.api)}/rtc/v1/${kind}/?${q}`;
}

/** Renders { label: value } as cards into #stats. */
export function showStats(values) {
  $("stats").replaceChildren(...Object.entries(values).map(([k, v]) =>
    el("div", { class: "card" }, el("div", { class: "label" }, k), el("div", { class: "value", "data-stat": k }, v))));
}

export function setState(text, cls = "") {
  const s = $("state");
  s.textContent = text;
  s.className = `state ${cls}`;
}

export const ms = (v) => (Number.isFinite(v) ? `${Math.round(v)} ms` : "–");
export const kbps = (v) => (Number.isFinite(v) ? (v >= 1000 ? `${(v / 1000).toFixed(2)} Mbps` : `${Math.round(v)} kbps`) : "–");
export const size = (w, h) => (w ? `${w}×${h}` : "–");
