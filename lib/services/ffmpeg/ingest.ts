/**
 * Ingest as SRS (`vhost { ingest id { enabled on; input { type file|stream; url …; } ffmpeg …; engine … } }`):
 * one FFmpeg per engine of every enabled ingest of every enabled vhost (args.ts builds the command line), each
 * publishing into this server (or wherever its output points), restarted when it exits (process.ts), stopped when
 * a reload removes or disables it and restarted when a reload changes it (SrsIngester::on_reload_ingest_*).
 *
 * A `file` input is read once per run (`-re -i file`) and restarted at its end, as SRS does. SRS's `device` type is
 * refused with a log line, as SRS refuses it. With srs-ts's workers, only the first worker runs ingests.
 */
import type { IngestConfig } from "../../config/ffmpeg.ts";
import { EngineError, ingestRuns } from "./args.ts";
import { type ProcessInfo, SupervisedProcess } from "./process.ts";
import type { FfmpegPorts } from "./ports.ts";

interface Running {
  /** What it was started from (compared on reload). */
  signature: string;
  procs: SupervisedProcess[];
}

export class IngestService {
  /** By `vhost/id`. */
  private running = new Map<string, Running>();
  private closed = false;
  private stopping: Promise<void> | undefined;

  constructor(private ctx: FfmpegPorts) {}

  /** Starts the configured ingests (nothing in a worker other than the first). */
  start(): void {
    this.reconcile().catch((e) => this.ctx.log.error("ingest: start failed", e));
  }

  /** The ingests the config in force asks for, by `vhost/id`. */
  private wanted(): Map<string, { vhost: string; ing: IngestConfig }> {
    const out = new Map<string, { vhost: string; ing: IngestConfig }>();
    if (!this.ctx.runsIngest || this.closed) return out;
    const c = this.ctx.config;
    for (const name of c.vhosts()) {
      const v = c.vhostExact(name);
      if (!v?.enabled) continue;
      for (const ing of v.ingests) if (ing.enabled) out.set(`${name}/${ing.id}`, { vhost: name, ing });
    }
    return out;
  }

  /**
   * Makes the running ingests match the config: stops those removed or disabled (resolves when their FFmpegs have
   * exited), restarts the changed ones, starts the new ones. Returns what changed, for the reload log.
   */
  async reconcile(): Promise<{ started: string[]; stopped: string[]; restarted: string[] }> {
    const c = this.ctx.config;
    const port = this.ctx.rtmpPort() ?? 1935;
    const want = this.wanted();
    const started: string[] = [];
    const stopped: string[] = [];
    const restarted: string[] = [];
    const stops: Promise<void>[] = [];
    const sigOf = (ing: IngestConfig) => JSON.stringify([ing, port, c.ffLogDir(), c.ffLogLevel()]);
    for (const [key, r] of this.running) {
      const w = want.get(key);
      if (w && sigOf(w.ing) === r.signature) continue;
      this.running.delete(key);
      (w ? restarted : stopped).push(key);
      for (const p of r.procs) stops.push(p.stop());
    }
    // The old FFmpegs leave before the new ones publish the same streams.
    await Promise.all(stops);
    if (this.closed) return { started, stopped, restarted };
    for (const [key, { vhost, ing }] of want) {
      if (this.running.has(key)) continue;
      const signature = sigOf(ing);
      const procs: SupervisedProcess[] = [];
      this.running.set(key, { signature, procs });
      if (!restarted.includes(key)) started.push(key);
      if (!ing.ffmpeg) {
        this.ctx.log.error(`ingest ${key}: no ffmpeg configured, not started`);
        continue;
      }
      let runs;
      try {
        runs = ingestRuns(vhost, ing, { port, ffLogDir: c.ffLogDir(), ffLogLevel: c.ffLogLevel() });
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
        this.ctx.log.error(`ingest ${key}: refused as SRS refuses it: ${e.message}`);
        continue;
      }
      for (const run of runs) {
        const p = new SupervisedProcess({
          kind: "ingest",
          name: run.name,
          stream: run.stream,
          bin: ing.ffmpeg,
          args: run.args,
          stdout: run.logFile,
          stderr: run.logFile,
          stopGraceMs: 500,
          adaptEncoders: true,
        }, this.ctx.log);
        procs.push(p);
        p.start();
      }
    }
    return { started, stopped, restarted };
  }

  processes(): ProcessInfo[] {
    return [...this.running.values()].flatMap((r) => r.procs.map((p) => p.info()));
  }

  /** Stops every ingest (server stop); a second call waits for the same stop. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.closed = true;
      const all = [...this.running.values()].flatMap((r) => r.procs);
      this.running.clear();
      this.stopping = Promise.all(all.map((p) => p.stop())).then(() => undefined);
    }
    return this.stopping;
  }
}
