// The console's recordings: DVR files from GET /api/v1/recordings, played in a <video> (MP4 directly, with seeking
// through HTTP Range; FLV through mpegts.js), downloaded, deleted (DELETE /api/v1/recordings/<id>, the API's auth);
// a time range of a stream as one MP4 (GET /api/v1/recordings/range, fetched with the API's credentials).
import { el, fmtBytes, fmtDuration } from "/site.js";
import { playHttp } from "/players/js/play.js";

const $ = (id) => document.getElementById(id);

export class Recordings {
  constructor(api, cfg, origins) {
    this.api = api;
    this.cfg = cfg;
    this.origins = origins; // { http, api }: where `url` is served (served_by)
    this.player = null;
    this.armed = "";
    this.rangeUrl = "";
    $("rec-close").addEventListener("click", () => this.close());
    $("range-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.playRange();
    });
  }

  urlOf(r) {
    return (r.served_by === "http" ? this.origins.http : this.origins.api) + r.url;
  }

  async refresh() {
    const j = await this.api.get("/api/v1/recordings");
    this.render(j.recordings || []);
  }

  /** The range form: the streams recorded, the start defaulting to the newest recording's. */
  renderRangeForm(list) {
    const sel = $("range-stream");
    const keys = [...new Set(list.map((r) => `${r.vhost}|${r.app}|${r.stream}`))];
    const was = sel.value;
    sel.replaceChildren(...keys.map((k) => {
      const [vhost, app, stream] = k.split("|");
      return el("option", { value: k, selected: k === was }, `${vhost === "__defaultVhost__" ? "" : `${vhost} `}/${app}/${stream}`);
    }));
    const start = $("range-start");
    if (!start.value && list.length) {
      const d = new Date(list[0].start);
      start.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    }
  }

  async playRange() {
    const [vhost, app, stream] = $("range-stream").value.split("|");
    const start = new Date($("range-start").value).getTime();
    const q = new URLSearchParams({ vhost, app, stream, start: String(start), duration: $("range-duration").value });
    this.close();
    $("rec-player").hidden = false;
    $("rec-name").textContent = `/${app}/${stream} · ${new Date(start).toLocaleString()} + ${$("range-duration").value} s`;
    $("rec-info").textContent = "Stitching…";
    try {
      const res = await fetch(`${this.api.base}/api/v1/recordings/range?${q}`, { headers: this.api.auth ? { Authorization: this.api.auth } : {} });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      if (!(res.headers.get("content-type") || "").startsWith("video/mp4")) throw new Error((await res.json()).error || "no MP4");
      const blob = await res.blob();
      if (this.rangeUrl) URL.revokeObjectURL(this.rangeUrl);
      this.rangeUrl = URL.createObjectURL(blob);
      const video = $("rec-video");
      video.src = this.rangeUrl;
      this.player = { stop: () => { video.removeAttribute("src"); video.load(); } };
      const a = $("range-download");
      a.href = this.rangeUrl;
      a.download = `${stream}-${new Date(start).toISOString().replace(/[:.]/g, "-")}.mp4`;
      a.hidden = false;
      $("rec-info").textContent = `${fmtBytes(blob.size)} MP4 stitched from the recordings (no re-encoding)`;
      video.play().catch(() => {});
    } catch (e) {
      $("rec-info").textContent = `Cannot stitch that range: ${e.message}`;
    }
  }

  render(list) {
    this.renderRangeForm(list);
    const rows = list.map((r) => el("tr", { "data-recording": r.id },
      el("td", {}, el("div", { class: "streamname" }, `/${r.app}/${r.stream}`), el("div", { class: "sub" }, r.vhost === "__defaultVhost__" ? r.name : `${r.vhost} · ${r.name}`)),
      el("td", {}, new Date(r.start).toLocaleString()),
      el("td", { class: "num" }, fmtDuration(r.duration)),
      el("td", { class: "num" }, fmtBytes(r.size)),
      el("td", {}, el("span", { class: "pill" }, r.format)),
      el("td", {}, el("span", { class: "actions" },
        el("button", { type: "button", onclick: () => this.play(r) }, "Play"),
        el("a", { class: "button", href: this.urlOf(r), download: r.name }, "Download"),
        el("button", { type: "button", class: "danger", "data-delete": r.id, onclick: (e) => this.remove(r, e.target) }, "Delete")))));
    $("recordings").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No recordings (DVR off, or nothing recorded yet)"))]));
  }

  async play(r) {
    this.close();
    const video = $("rec-video");
    $("rec-player").hidden = false;
    $("rec-name").textContent = `/${r.app}/${r.stream} · ${new Date(r.start).toLocaleString()}`;
    const url = this.urlOf(r);
    try {
      if (r.format === "mp4") {
        video.src = url;
        this.player = { stop: () => { video.removeAttribute("src"); video.load(); } };
      } else {
        this.player = await playHttp(video, url, { lowLatency: false, onError: (msg) => ($("rec-info").textContent = `Cannot play: ${msg}`) });
      }
      $("rec-info").textContent = url;
      video.play().catch(() => {});
    } catch (e) {
      $("rec-info").textContent = `Cannot play: ${e.message}`;
    }
  }

  close() {
    this.player?.stop();
    this.player = null;
    $("rec-player").hidden = true;
  }

  async remove(r, button) {
    if (this.armed !== r.id) {
      this.armed = r.id;
      button.textContent = "Confirm delete";
      setTimeout(() => {
        if (this.armed === r.id) {
          this.armed = "";
          button.textContent = "Delete";
        }
      }, 4000);
      return;
    }
    this.armed = "";
    try {
      await this.api.del(`/api/v1/recordings/${encodeURIComponent(r.id)}`);
    } catch (e) {
      $("rec-info").textContent = `Delete: ${e.message}`;
    }
    await this.refresh().catch(() => {});
  }
}
