/**
 * The external processes SRS drives: ingest (FFmpeg pulling sources in), transcode (FFmpeg engines per published
 * stream) and exec (a program per published stream). The composition root starts them once the RTMP listener is
 * up, registers their stop with the lifecycle (no FFmpeg outlives a stop) and their reload handler, and the API
 * lists their processes (/api/v1/processes, an srs-ts addition).
 */
import { globalChange, vhostChanges } from "../../config/diff.ts";
import { applied, type ReloadHandler, type ReloadOutcome } from "../../reload/handler.ts";
import { ExecService } from "./exec.ts";
import { IngestService } from "./ingest.ts";
import type { FfmpegPorts } from "./ports.ts";
import type { ProcessInfo } from "./process.ts";
import { TranscodeService } from "./transcode.ts";

export type { FfmpegPorts } from "./ports.ts";
export type { ProcessInfo } from "./process.ts";

export class FfmpegServices {
  readonly ingest: IngestService;
  readonly transcode: TranscodeService;
  readonly exec: ExecService;

  constructor(private ctx: FfmpegPorts) {
    this.ingest = new IngestService(ctx);
    this.transcode = new TranscodeService(ctx);
    this.exec = new ExecService(ctx);
  }

  /**
   * Transcode and exec follow publishes from now on. A stop ends every process: the ingests as the listeners
   * close (their publishing sessions must not hold a graceful quit: nothing else would end them), the rest at
   * the end (transcode and exec end with their streams' unpublish).
   */
  start(): void {
    this.transcode.start();
    this.exec.start();
    this.ctx.lifecycle.register({ name: "ingest processes", phase: "accept", close: () => void this.ingest.stop() });
    this.ctx.lifecycle.register({ name: "ffmpeg processes", phase: "finish", close: () => this.stop() });
  }

  /** Starts the configured ingests (once the listeners they publish to are up). */
  startIngest(): void {
    this.ingest.start();
  }

  /** Every process running (or waiting to restart): ingests, transcodes, execs. */
  processes(): ProcessInfo[] {
    return [...this.ingest.processes(), ...this.transcode.processes(), ...this.exec.processes()];
  }

  async stop(): Promise<void> {
    await Promise.all([this.ingest.stop(), this.transcode.stop(), this.exec.stop()]);
  }
}

/**
 * Reload (SRS: SrsIngester::on_reload_ingest_*, on_reload_vhost_added/removed; SrsOriginHub::
 * on_reload_vhost_transcode): ingests are matched to the new config (removed ones stopped, changed ones
 * restarted, new ones started); the transcodes of a vhost's live streams are restarted when its `transcode`
 * changed; `exec` applies at the next publish, as SRS.
 */
export function ffmpegReload(ctx: Pick<FfmpegPorts, "hubs">, services: () => FfmpegServices | undefined): ReloadHandler {
  return {
    name: "ffmpeg",
    async reload(e): Promise<ReloadOutcome[]> {
      const out: ReloadOutcome[] = [];
      const s = services();
      if (!s) return out;
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
