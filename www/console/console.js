// The console: polls /api/v1 summaries, vhosts, streams, clients and processes (every 2 s, or ?refresh=seconds) and renders
// them; draws the last hour from /api/v1/history (graphs.js); kicks clients with DELETE /api/v1/clients/:id; previews a stream on demand; asks for credentials on 401.
import { Api, apiOrigin, el, httpOrigin, fmtBytes, fmtDuration, fmtKbps, loadConfig, streamUrls, urlRow } from "/site.js";
import { playHttp } from "/players/js/play.js";
import { Graphs } from "./graphs.js";
import { Recordings } from "./recordings.js";

const $ = (id) => document.getElementById(id);
const cfg = await loadConfig();
const api = new Api(new URLSearchParams(location.search).get("api") || apiOrigin(cfg));
const interval = Math.max(0.5, Number(new URLSearchParams(location.search).get("refresh")) || 2) * 1000;

const state = {
  paused: false,
  timer: 0,
  gen: 0,
  vhostNames: new Map(), // vhost id -> name
  prev: new Map(), // "kind:id" -> { recv, send, t } for rates from byte counters
  open: new Set(), // stream ids whose URLs are shown
  armed: "", // client id whose Kick waits for confirmation
  armedUntil: 0,
  preview: null, // { id, stop }
  loginOpen: false,
};

/** kbps from the byte counters since the last poll; the server's 30 s average until there is one. */
function rate(kind, id, recv, send, t, fallback) {
  const key = `${kind}:${id}`;
  const p = state.prev.get(key);
  state.prev.set(key, { recv, send, t, seen: true });
  if (!p || t <= p.t) return { in: fallback?.recv_30s, out: fallback?.send_30s };
  const dt = (t - p.t) / 1000;
  return { in: Math.max(0, ((recv - p.recv) * 8) / 1000 / dt), out: Math.max(0, ((send - p.send) * 8) / 1000 / dt) };
}

function setStatus(text, cls) {
  $("status").textContent = text;
  $("dot").className = `dot ${cls}`;
}

function showError(msg) {
  const b = $("error");
  b.hidden = !msg;
  b.textContent = msg || "";
}

async function refresh() {
  clearTimeout(state.timer);
  const gen = ++state.gen; // only the newest refresh schedules the next one
  try {
    const [sum, vh, st, cl, pr] = await Promise.all([
      api.get("/api/v1/summaries"),
      api.get("/api/v1/vhosts/"),
      api.get("/api/v1/streams/?start=0&count=500"),
      api.get("/api/v1/clients/?start=0&count=500"),
      // srs-ts's ingest/transcode/exec processes (an API SRS does not have: an empty table if it fails)
      api.get("/api/v1/processes").catch((e) => (e.status === 401 ? Promise.reject(e) : { processes: [] })),
    ]);
    const now = Date.now();
    if (gen !== state.gen) return; // a newer refresh is under way
    renderSummary(sum.data, now);
    renderVhosts(vh.vhosts || [], now);
    renderStreams(st.streams || [], cl.clients || [], now);
    renderClients(cl.clients || [], now);
    renderProcesses(pr.processes || []);
    refreshLogs();
    showError("");
    setStatus(`${api.base} · ${new Date().toLocaleTimeString()}`, "live");
  } catch (e) {
    if (e.status === 401) {
      setStatus("credentials required", "bad");
      login(api.auth ? "Those credentials were refused." : "");
      return; // resumes after sign-in
    }
    setStatus("API unreachable", "bad");
    showError(`${e.message}. Retrying…`);
  }
  if (!state.paused && gen === state.gen) state.timer = setTimeout(refresh, interval);
}

function login(why) {
  if (state.loginOpen) return;
  state.loginOpen = true;
  const d = $("login");
  if (why) $("login-why").textContent = why;
  d.showModal();
  d.addEventListener("close", () => {
    state.loginOpen = false;
    const f = $("login-form");
    api.setCredentials(f.user.value, f.pass.value);
    f.pass.value = "";
    refresh();
    refreshGraphs();
    refreshRecordings();
    loadConfigView();
  }, { once: true });
}

// ---------------------------------------------------------------------------------------------------------------

function renderSummary(d, now) {
  const self = d.self || {}, sys = d.system || {};
  $("s-version").textContent = cfg.version || self.version || "–";
  $("s-pid").textContent = `${cfg.version ? "srs-ts, " : ""}SRS ${self.version || "?"} compatible · pid ${self.pid ?? "?"}`;
  $("s-uptime").textContent = fmtDuration(self.srs_uptime);
  $("s-sysup").textContent = `host up ${fmtDuration(sys.uptime)}`;
  $("s-cpu").textContent = `${((self.cpu_percent || 0) * 100).toFixed(1)}%`;
  $("s-load").textContent = `host ${((sys.cpu_percent || 0) * 100).toFixed(0)}% of ${sys.cpus || "?"} CPUs · load ${sys.load_1m ?? "–"}`;
  $("s-mem").textContent = fmtBytes((self.mem_kbyte || 0) * 1024);
  $("s-sysmem").textContent = `host RAM ${((sys.mem_ram_percent || 0) * 100).toFixed(0)}% of ${fmtBytes((sys.mem_ram_kbyte || 0) * 1024)}`;
  const r = rate("srs", "", sys.srs_recv_bytes || 0, sys.srs_send_bytes || 0, sys.srs_sample_time || now);
  $("s-in").textContent = fmtKbps(r.in);
  $("s-out").textContent = fmtKbps(r.out);
  $("s-intotal").textContent = `${fmtBytes(sys.srs_recv_bytes)} received`;
  $("s-outtotal").textContent = `${fmtBytes(sys.srs_send_bytes)} sent`;
  $("s-conn").textContent = String(sys.conn_srs ?? "–");
  $("s-sysconn").textContent = `host TCP ${sys.conn_sys ?? "–"} · UDP ${sys.conn_sys_udp ?? "–"}`;
}

function renderVhosts(vhosts, now) {
  state.vhostNames = new Map(vhosts.map((v) => [v.id, v.name]));
  const rows = vhosts.map((v) => {
    const r = rate("vhost", v.id, v.recv_bytes, v.send_bytes, now, v.kbps);
    return el("tr", {},
      el("td", {}, v.name),
      el("td", {}, v.enabled ? el("span", { class: "ok" }, "enabled") : el("span", { class: "muted" }, "disabled")),
      el("td", { class: "num" }, v.streams), el("td", { class: "num" }, v.clients),
      el("td", { class: "num" }, fmtKbps(r.in)), el("td", { class: "num" }, fmtKbps(r.out)),
      el("td", {}, v.hls?.enabled ? `on · ${v.hls.fragment}s fragments` : "off"));
  });
  $("vhosts").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No vhosts"))]));
}

function videoText(v) {
  if (!v) return el("span", { class: "muted" }, "none");
  return [el("div", {}, `${v.codec}${v.width ? ` ${v.width}×${v.height}` : ""}`),
    el("div", { class: "sub" }, [v.profile, v.level && `level ${v.level}`].filter(Boolean).join(" · "))];
}

function audioText(a) {
  if (!a) return el("span", { class: "muted" }, "none");
  const ch = a.channel === 1 ? "mono" : a.channel === 2 ? "stereo" : `${a.channel} ch`;
  return [el("div", {}, a.codec), el("div", { class: "sub" }, [a.sample_rate && `${a.sample_rate / 1000} kHz`, ch, a.profile].filter(Boolean).join(" · "))];
}

/** The stream's health badge (ok / warning / bad, the reasons as its title): `health` in /api/v1/streams. */
function healthBadge(h) {
  if (!h) return null;
  return el("span", { class: `pill health ${h.status}`, "data-health": h.status, title: h.reasons.join("\n") || "healthy" }, h.status);
}

function healthFigures(h) {
  if (!h || h.fps == null) return null;
  const parts = [`${h.fps} fps${h.declared_fps ? ` of ${h.declared_fps}` : ""}`];
  if (h.keyframe_interval_ms != null) parts.push(`GOP ${(h.keyframe_interval_ms / 1000).toFixed(1)} s`);
  if (h.av_drift_ms != null) parts.push(`A/V ${h.av_drift_ms} ms`);
  if (h.video_kbps != null) parts.push(`V ${fmtKbps(h.video_kbps)} · A ${fmtKbps(h.audio_kbps)}`);
  if (h.publisher_rtt_ms != null) parts.push(`RTT ${h.publisher_rtt_ms} ms`);
  return el("div", { class: "sub" }, parts.join(" · "));
}

function streamInfo(s) {
  const vhost = state.vhostNames.get(s.vhost) || "__defaultVhost__";
  return { vhost, app: s.app, stream: s.name };
}

function renderStreams(streams, clients, now) {
  const alive = new Map(clients.map((c) => [c.id, c.alive]));
  const rows = [];
  for (const s of streams) {
    const info = streamInfo(s);
    const r = rate("stream", s.id, s.recv_bytes, s.send_bytes, now, s.kbps);
    const pubId = s.publish?.active ? s.publish.cid : "";
    const open = state.open.has(s.id);
    rows.push(el("tr", { "data-stream": s.url },
      el("td", {},
        el("div", { class: "streamname" }, s.url),
        el("div", { class: "sub" }, info.vhost === "__defaultVhost__" ? "" : `vhost ${info.vhost} · `,
          s.publish?.active ? el("span", { class: "pill pub" }, "live") : el("span", { class: "pill" }, "idle"), " ",
          healthBadge(s.health)),
        s.health?.reasons?.length ? el("div", { class: "sub health-reasons" }, s.health.reasons.join(" · ")) : null,
        healthFigures(s.health)),
      el("td", {}, videoText(s.video)),
      el("td", {}, audioText(s.audio)),
      el("td", { class: "num" }, fmtKbps(r.in), el("div", { class: "sub" }, `out ${fmtKbps(r.out)}`)),
      el("td", { class: "num" }, s.clients),
      el("td", { class: "num" }, pubId && alive.has(pubId) ? fmtDuration(alive.get(pubId)) : "–"),
      el("td", {}, el("span", { class: "actions" },
        el("button", { type: "button", onclick: () => preview(s, info), "aria-pressed": String(state.preview?.id === s.id) }, "Preview"),
        el("button", { type: "button", onclick: () => toggle(s.id), "aria-expanded": String(open) }, "Play URLs"),
        el("button", { type: "button", onclick: () => graphs.show(s.id) }, "Graphs"),
        pubId ? kickButton(pubId, "Kick") : null))));
    if (open) {
      const u = streamUrls(cfg, info);
      rows.push(el("tr", { class: "detail" }, el("td", { colspan: 7 }, el("div", { class: "urls" },
        ...urlRow("RTMP", u.rtmp), ...urlRow("HTTP-FLV", u.flv, u.players.flv), ...urlRow("HLS", u.hls, u.players.hls),
        ...urlRow("DASH", u.dash, u.players.dash), ...urlRow("HTTP-TS", u.ts, u.players.ts), ...urlRow("WebRTC", u.webrtc, u.players.rtc),
        ...urlRow("WHEP", u.whep, u.players.whep), ...urlRow("SRT", u.srt), ...urlRow("RTSP", u.rtsp),
        ...urlRow("HTTPS-FLV", u.https?.flv, u.https?.players.flv), ...urlRow("HLS (HTTPS)", u.https?.hls, u.https?.players.hls),
        ...urlRow("WHEP (HTTPS)", u.https?.whep)))));
    }
  }
  $("streams").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No streams. Publish one, e.g. ffmpeg -re -i in.flv -c copy -f flv " + streamUrls(cfg).rtmp))]));
  if (state.preview && !streams.some((s) => s.id === state.preview.id)) $("preview-info").textContent = "The stream has ended.";
}

function toggle(id) {
  if (state.open.has(id)) state.open.delete(id);
  else state.open.add(id);
  refresh();
}

function kickButton(id, label) {
  const armed = state.armed === id && Date.now() < state.armedUntil;
  return el("button", {
    type: "button", class: "danger", "data-kick": id,
    title: armed ? "Click again to disconnect" : `Disconnect client ${id}`,
    onclick: () => kick(id),
  }, armed ? "Confirm kick" : label);
}

async function kick(id) {
  if (state.armed !== id || Date.now() > state.armedUntil) {
    state.armed = id;
    state.armedUntil = Date.now() + 4000;
    setTimeout(() => state.armed === id && Date.now() > state.armedUntil && refresh(), 4100);
    for (const b of document.querySelectorAll("button[data-kick]")) {
      if (b.dataset.kick === id) {
        b.textContent = "Confirm kick";
        b.title = "Click again to disconnect";
      }
    }
    return;
  }
  state.armed = "";
  try {
    await api.del(`/api/v1/clients/${encodeURIComponent(id)}`);
  } catch (e) {
    showError(`Kick ${id}: ${e.message}`);
  }
  setTimeout(refresh, 300);
}

function renderClients(clients, now) {
  const rows = clients.map((c) => {
    const r = rate("client", c.id, c.recv_bytes, c.send_bytes, now, c.kbps);
    return el("tr", { "data-client": c.id },
      el("td", { class: "mono" }, el("button", { type: "button", class: "link", title: "Show this client's log lines", "data-logs": c.id, onclick: () => showLogs(c.id) }, c.id)),
      el("td", {}, el("span", { class: c.publish ? "pill pub" : "pill" }, c.type), c.transport ? el("div", { class: "sub" }, c.transport) : null),
      el("td", {}, c.url, c.pageUrl ? el("div", { class: "sub" }, c.pageUrl) : null),
      el("td", { class: "mono" }, c.ip),
      el("td", { class: "num" }, fmtDuration(c.alive)),
      el("td", { class: "num" }, fmtKbps(r.in)),
      el("td", { class: "num" }, fmtKbps(r.out)),
      el("td", {}, kickButton(c.id, "Kick")));
  });
  $("clients").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No clients"))]));
}

function renderProcesses(procs) {
  const rows = procs.map((p) => el("tr", { "data-process": p.name },
    el("td", {}, el("span", { class: "pill" }, p.kind)),
    el("td", {}, el("div", {}, p.name), el("div", { class: "cmd", title: p.cmdline }, p.cmdline)),
    el("td", {}, el("span", { class: p.state === "running" ? "pill pub" : "pill" }, p.state)),
    el("td", { class: "num mono" }, p.pid ?? "–"),
    el("td", { class: "num" }, p.state === "running" ? fmtDuration(p.uptime_ms / 1000) : "–"),
    el("td", { class: "num" }, p.restarts),
    el("td", {}, p.last_exit || "–", p.last_exit && p.last_stderr?.length ? el("div", { class: "sub" }, p.last_stderr.at(-1)) : null)));
  $("processes").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, "No FFmpeg or exec processes (ingest, transcode, exec)"))]));
}

// ---------------------------------------------------------------------------------------------------------------
// Logs: the server's last lines (GET /api/v1/logs), of one client when its id is given (click a client's id).

let logsGen = 0;
async function refreshLogs() {
  const gen = ++logsGen;
  const cid = $("log-cid").value.trim();
  const q = new URLSearchParams({ lines: $("log-lines").value });
  if (cid) q.set("cid", cid);
  try {
    const j = await api.get(`/api/v1/logs?${q}`);
    if (gen !== logsGen) return;
    const box = $("logs");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.textContent = (j.lines || []).map((l) => l.line).join("\n") || (cid ? `No lines of client ${cid}.` : "No lines.");
    if (atEnd) box.scrollTop = box.scrollHeight;
  } catch {
    // the main refresh shows the API's state
  }
}

function showLogs(cid) {
  $("log-cid").value = cid;
  refreshLogs();
  $("h-logs").scrollIntoView({ behavior: "smooth" });
}

$("log-cid").addEventListener("change", refreshLogs);
$("log-lines").addEventListener("change", refreshLogs);
$("log-all").addEventListener("click", () => showLogs(""));

// Config: the running config (secrets masked by the server), and Reload through SRS's raw API.

async function loadConfigView() {
  try {
    const j = await api.get("/api/v1/config");
    $("config-file").textContent = j.file ? `from ${j.file}` : "from the environment / defaults";
    $("config-text").textContent = j.text;
    $("config-env").textContent = j.env?.length ? `Environment: ${j.env.map((e) => `${e.name}=${e.value}`).join("  ")}` : "";
    const r = j.reload || {};
    $("config-reload").disabled = !(r.raw_api && r.allow_reload);
    $("config-reload").title = r.raw_api && r.allow_reload ? "Reload the config file (raw API: rpc=reload)" : "Needs http_api { raw_api { enabled on; allow_reload on; } }";
  } catch (e) {
    $("config-text").textContent = `Cannot read the config: ${e.message}`;
  }
}

async function reloadConfig() {
  const st = $("config-status");
  st.textContent = "Reloading…";
  try {
    await api.get("/api/v1/raw?rpc=reload");
    let d = { state: 30 };
    for (let i = 0; i < 20 && d.state === 30; i++) {
      await new Promise((r) => setTimeout(r, 250));
      d = (await api.get("/api/v1/raw?rpc=reload-fetch")).data || {};
    }
    st.textContent = d.err ? `Reload refused: ${d.msg} (${d.err})` : `Reloaded at ${new Date().toLocaleTimeString()}`;
    st.className = d.err ? "sub bad" : "sub ok";
  } catch (e) {
    st.textContent = `Reload failed: ${e.message}`;
    st.className = "sub bad";
  }
  loadConfigView();
}

$("config-reload").addEventListener("click", reloadConfig);
$("config-refresh").addEventListener("click", loadConfigView);

// Recordings: listed every 10 s (and after a delete).
const recordings = new Recordings(api, cfg, { http: httpOrigin(cfg), api: api.base });
let recTimer = 0;
async function refreshRecordings() {
  clearTimeout(recTimer);
  await recordings.refresh().catch(() => {});
  if (!state.paused) recTimer = setTimeout(refreshRecordings, 10000);
}

// ---------------------------------------------------------------------------------------------------------------
// Graphs: /api/v1/history every 5 s (its resolution), paused with the rest.

const graphs = new Graphs(api);
let graphTimer = 0;
async function refreshGraphs() {
  clearTimeout(graphTimer);
  try {
    await graphs.refresh();
  } catch {
    // the main refresh shows the API's state (unreachable, credentials)
  }
  if (!state.paused) graphTimer = setTimeout(refreshGraphs, 5000);
}

// ---------------------------------------------------------------------------------------------------------------
// Preview: a muted HTTP-FLV player (HLS when the FLV mount is missing), one at a time.

async function preview(s, info) {
  closePreview();
  const u = streamUrls(cfg, info);
  const video = $("preview-video");
  $("preview").hidden = false;
  $("preview-name").textContent = s.url;
  $("preview-info").textContent = "Connecting…";
  $("preview-open").href = u.players.flv;
  const id = s.id;
  state.preview = { id, stop: () => {} };
  const tryUrl = async (url, next) => {
    const p = await playHttp(video, url, {
      onError: (msg) => {
        if (state.preview?.id !== id) return;
        p.stop();
        if (next) tryUrl(next);
        else $("preview-info").textContent = `Cannot play: ${msg}`;
      },
    });
    state.preview.stop = p.stop;
    video.play().catch(() => {});
    $("preview-info").textContent = `${p.kind.toUpperCase()} via ${p.engine} ${p.version} · ${url}`;
  };
  try {
    await tryUrl(u.flv, u.hls);
  } catch (e) {
    $("preview-info").textContent = `Cannot play: ${e.message}`;
  }
  refresh();
}

function closePreview() {
  if (!state.preview) return;
  state.preview.stop();
  state.preview = null;
  $("preview").hidden = true;
}

$("preview-close").addEventListener("click", () => {
  closePreview();
  refresh();
});
$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? "Resume" : "Pause";
  if (state.paused) {
    clearTimeout(state.timer);
    clearTimeout(graphTimer);
    clearTimeout(recTimer);
  } else {
    refresh();
    refreshGraphs();
    refreshRecordings();
  }
});

if (cfg.auth && !api.auth) login("");
else {
  refresh();
  refreshGraphs();
  refreshRecordings();
  loadConfigView();
}
