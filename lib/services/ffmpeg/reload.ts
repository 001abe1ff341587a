/**
 * The FFmpeg services' part of reload, in a module of its own: the server keeps this handler while the services
 * themselves are not loaded (lib/services/on-demand.ts), so it imports nothing of them but their type.
 *
 * Reload (SRS: SrsIngester::on_reload_ingest_*, on_reload_vhost_added/removed; SrsOriginHub::
 * on_reload_vhost_transcode): ingests are matched to the new config (removed ones stopped, changed ones
 * restarted, new ones started); the transcodes of a vhost's live streams are restarted when its `transcode`
 * changed; `exec` applies at the next publish, as SRS. Not loaded (no ingest, transcode or exec enabled anywhere,
 * before or after the reload), there is nothing to restart: the changes apply as they are.
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import type { FfmpegServices } from "./index.ts";
import type { FfmpegPorts } from "./ports.ts";

export function ffmpegReload(ctx: Pick<FfmpegPorts, "hubs">, services: () => FfmpegServices | undefined): ReloadHandler {
  return {
    name: "ffmpeg",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const s = services();
      if (!s) {
        for (const { vhost } of vhostChanges(e.diff, "ingest")) out.push(applied(`vhost ${vhost} ingest`, "no ingest enabled"));
        for (const name of ["ff_log_dir", "ff_log_level"]) if (globalChange(e.diff, name)) out.push(applied(name, "no FFmpeg running"));
        for (const section of ["transcode", "exec"]) {
          for (const { vhost } of vhostChanges(e.diff, section)) out.push(applied(`vhost ${vhost} ${section}`, "next publish"));
        }
        return out;
      }
      const r = await s.ingest.reconcile();
      const note = [
        r.started.length && `started ${r.started.join(", ")}`,
        r.stopped.length && `stopped ${r.stopped.join(", ")}`,
        r.restarted.length && `restarted ${r.restarted.join(", ")}`,
      ].filter(Boolean).join("; ");
      for (const { vhost } of vhostChanges(e.diff, "ingest")) out.push(applied(`vhost ${vhost} ingest`, note || "no change"));
      for (const name of ["ff_log_dir", "ff_log_level"]) {
        if (globalChange(e.diff, name)) out.push(applied(name, "ingests restarted; transcodes at their next publish"));
      }
      for (const { vhost } of vhostChanges(e.diff, "transcode")) {
        let n = 0;
        let streams = 0;
        for (const hub of ctx.hubs.ofVhost(vhost)) {
          if (!hub.active) continue;
          streams++;
          n += await s.transcode.reload(hub);
        }
        out.push(applied(`vhost ${vhost} transcode`, streams ? `${streams} live streams, ${n} FFmpegs restarted` : "next publish"));
      }
      for (const { vhost } of vhostChanges(e.diff, "exec")) out.push(applied(`vhost ${vhost} exec`, "next publish"));
      return out;
    },
  };
}
