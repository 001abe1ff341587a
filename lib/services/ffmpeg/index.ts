/**
 * The external processes SRS drives: ingest (FFmpeg pulling sources in), transcode (FFmpeg engines per published
 * stream) and exec (a program per published stream). The composition root starts them once the RTMP listener is
 * up, registers their stop with the lifecycle (no FFmpeg outlives a stop) and their reload handler (reload.ts),
 * and the API lists their processes (/api/v1/processes, an srs-ts addition).
 */
import { ExecService } from "./exec.ts";
import { IngestService } from "./ingest.ts";
import type { FfmpegPorts } from "./ports.ts";
import type { ProcessInfo } from "./process.ts";
import { TranscodeService } from "./transcode.ts";

export type { FfmpegPorts } from "./ports.ts";
export type { ProcessInfo } from "./process.ts";
export { ffmpegReload } from "./reload.ts";

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
