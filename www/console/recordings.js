// The console's recordings: DVR files from GET /api/v1/recordings, played in a <video> (MP4 directly, with seeking
// through HTTP Range; FLV through mpegts.js), downloaded, deleted (DELETE /api/v1/recordings/<id>, the API's auth).
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
    $("rec-close").addEventListener("click", () => this.close());
  }

  urlOf(r) {
    return (r.served_by === "http" ? this.origins.http : this.origins.api) + r.url;
  }

  async refresh() {
    const j = await this.api.get("/api/v1/recordings");
    this.render(j.recordings || []);
  }

  render(list) {
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
