/**
 * Transcode as SRS (`vhost { transcode [app[/stream]] { enabled on; ffmpeg …; engine name { … } } }`): when a
 * stream is published, every enabled engine of the vhost's transcodes whose scope is "" (every stream), its app
 * or its app/stream runs one FFmpeg reading the stream back from this server over RTMP and publishing the output
 * (e.g. `[stream]_[engine]`); they stop at unpublish (SrsEncoder::on_publish/on_unpublish). A reload of the
 * vhost's transcodes restarts them on its live streams.
 *
 * Loops: a stream that one of the transcode's own engines would produce (`livestream_ff` for the output
 * `…/[app]/[stream]_[engine]…`) is not transcoded by that transcode again, with a log line (args.ts isOwnOutput);
 * SRS's exact-URL guard misses its own configs' output form, so an app-wide transcode there transcodes its output
 * again and again.
 *
 * Differences from SRS: an engine SRS refuses (a libx264 engine without vprofile/vpreset, both tracks off…) is
 * refused with SRS's reason in the log, and the stream's other engines and the publish go on (SRS fails the
 * publish); every `transcode` block of the vhost is looked at (SRS only ever reads the first one).
 */
import type { StreamHub } from "../../hub/stream-hub.ts";
import { EngineError, isOwnOutput, type TranscodeInput, transcodeRun } from "./args.ts";
import { PerStreamProcesses } from "./per-stream.ts";
import { SupervisedProcess } from "./process.ts";

export class TranscodeService extends PerStreamProcesses {
  /** Restarts the stream's transcodes from the config in force (reload); returns how many FFmpegs run now. */
  async reload(hub: StreamHub): Promise<number> {
    await this.onUnpublish(hub);
    if (hub.active) this.onPublish(hub);
    return this.running(hub);
  }

  protected processesFor(hub: StreamHub): SupervisedProcess[] {
    const { vhost, app, stream } = hub.key;
    const v = this.ctx.config.vhost(vhost);
    if (!v) return [];
    const scopes = ["", app, `${app}/${stream}`];
    const blocks = v.transcodes.filter((t) => scopes.includes(t.scope));
    if (!blocks.length) return [];
    const port = this.ctx.rtmpPort();
    if (port === undefined) {
      this.ctx.log.warn(`transcode ${hub.name}: no RTMP listener to read the stream from, not transcoded`);
      return [];
    }
    const client = hub.publisher ? this.ctx.clients.get(hub.publisher.clientId) : undefined;
    const input: TranscodeInput = { vhost, app, stream, param: client?.param ?? "", port };
    const list: SupervisedProcess[] = [];
    for (const t of blocks) {
      const label = `transcode ${t.scope || "(vhost)"} of ${hub.name}`;
      if (!t.enabled) {
        this.ctx.log.trace(`${label}: disabled`);
        continue;
      }
      if (!t.ffmpeg) {
        this.ctx.log.trace(`${label}: no ffmpeg configured, ignored`);
        continue;
      }
      const loop = t.engines.find((e) => isOwnOutput(e.output, e.name, input));
      if (loop) {
        this.ctx.log.trace(`${label}: ${hub.name} is what engine ${loop.name} of this transcode outputs, not transcoded again (loop)`);
        continue;
      }
      for (const e of t.engines) {
        if (!e.enabled) continue;
        let run;
        try {
          run = transcodeRun(e, input, this.ctx.config.ffLogDir());
        } catch (err) {
          if (!(err instanceof EngineError)) throw err;
          this.ctx.log.error(`${label}: engine ${e.name} refused as SRS refuses it: ${err.message}`);
          continue;
        }
        const p = new SupervisedProcess({
          kind: "transcode",
          name: `${vhost}/${app}/${stream} ${e.name}`,
          stream: hub.name,
          bin: t.ffmpeg,
          args: run.args,
          stdout: run.logFile,
          stderr: run.logFile,
          stopGraceMs: 500,
          adaptEncoders: true,
        }, this.ctx.log);
        list.push(p);
      }
    }
    return list;
  }
}
