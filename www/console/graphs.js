// The console's graphs: GET /api/v1/history (the last hour at 5 s, kept in the server) drawn with uPlot
// (www/console/js/uPlot.min.js, a global `uPlot`). Server: CPU, memory, bandwidth, connections; one stream (chosen
// in the list, or by clicking a stream's Graphs button): bitrate, frame rate, clients and players by protocol.
// The charts are on `window.srsCharts` (name -> uPlot) so tests can read their data.
import { el, fmtKbps } from "/site.js";

const $ = (id) => document.getElementById(id);
const charts = new Map(); // name -> { plot, key }
window.srsCharts = {};

const PALETTE = ["#0b6bcb", "#1a7f37", "#cf222e", "#9a6700", "#8250df", "#0a7b83", "#bc4c00"];

/** The plot's width: its grid cell's, less the cell's padding. */
function width(holder) {
  return Math.max(200, Math.floor(holder.clientWidth - 10));
}

/** Draws (or updates) the chart `name` in `box`: x = seconds since epoch, one line per series. */
function chart(name, box, title, t, series, fmt) {
  const key = series.map((s) => s.label).join("|");
  const data = [t.map((ms) => ms / 1000), ...series.map((s) => s.values)];
  let c = charts.get(name);
  if (c && c.key !== key) {
    c.plot.destroy();
    c.holder.remove();
    charts.delete(name);
    c = undefined;
  }
  if (!c) {
    const holder = el("div", { class: "chart", "data-chart": name });
    box.append(holder);
    const opts = {
      title,
      width: width(holder),
      height: 170,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{ stroke: "#888" }, { stroke: "#888", size: 56, values: (u, vals) => vals.map((v) => (fmt ? fmt(v) : String(v))) }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, value: (u, v) => (v == null ? "–" : fmt ? fmt(v) : String(v)) }))],
    };
    // eslint-disable-next-line no-undef
    c = { plot: new uPlot(opts, data, holder), key, holder };
    charts.set(name, c);
  } else {
    c.plot.setData(data);
  }
  window.srsCharts[name] = c.plot;
}

function drop(prefix) {
  for (const [name, c] of charts) {
    if (!name.startsWith(prefix)) continue;
    c.plot.destroy();
    c.holder.remove();
    charts.delete(name);
    delete window.srsCharts[name];
  }
}

const kbpsFmt = (v) => fmtKbps(v).replace(" kbps", "k").replace(" Mbps", "M");

export class Graphs {
  constructor(api) {
    this.api = api;
    this.stream = ""; // the stream id shown
    this.last = null;
    $("graph-stream").addEventListener("change", () => {
      this.stream = $("graph-stream").value;
      if (this.last) this.render(this.last);
    });
    addEventListener("resize", () => {
      for (const c of charts.values()) c.plot.setSize({ width: width(c.holder), height: 170 });
    });
  }

  /** Shows the graphs of stream `id` (the Streams table's Graphs button). */
  show(id) {
    this.stream = id;
    if (this.last) this.render(this.last);
    $("h-graphs").scrollIntoView({ behavior: "smooth" });
  }

  async refresh() {
    const h = await this.api.get("/api/v1/history");
    this.last = h;
    this.render(h);
  }

  render(h) {
    const s = h.server || {};
    const t = s.t || [];
    const box = $("graphs-server");
    chart("cpu", box, "CPU (% of one core)", t, [{ label: "CPU %", values: s.cpu || [] }]);
    chart("mem", box, "Memory (MB)", t, [{ label: "RSS MB", values: s.mem_mb || [] }]);
    chart("bandwidth", box, "Bandwidth", t, [{ label: "in", values: s.recv_kbps || [] }, { label: "out", values: s.send_kbps || [] }], kbpsFmt);
    chart("conns", box, "Connections", t, [{ label: "clients", values: s.conns || [] }]);

    const streams = h.streams || {};
    const ids = Object.keys(streams);
    const sel = $("graph-stream");
    if (!this.stream || !streams[this.stream]) this.stream = ids.find((id) => streams[id].live) || ids[0] || "";
    sel.replaceChildren(...ids.map((id) => el("option", { value: id, selected: id === this.stream }, `${streams[id].url}${streams[id].live ? "" : " (ended)"}`)));
    sel.disabled = ids.length === 0;
    const st = streams[this.stream];
    const sbox = $("graphs-stream");
    if (!st) {
      drop("stream-");
      $("graphs-stream-empty").hidden = false;
      return;
    }
    $("graphs-stream-empty").hidden = true;
    chart("stream-kbps", sbox, "Bitrate in", st.t, [{ label: "kbps", values: st.kbps || [] }], kbpsFmt);
    chart("stream-fps", sbox, "Frame rate", st.t, [{ label: "fps", values: st.fps || [] }]);
    const players = Object.keys(st).filter((k) => k.startsWith("players_")).sort();
    chart("stream-clients", sbox, "Clients", st.t, [{ label: "all", values: st.clients || [] },
      ...players.map((k) => ({ label: k.slice("players_".length), values: st[k] }))]);
  }
}
