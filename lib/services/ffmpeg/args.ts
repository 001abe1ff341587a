/**
 * The FFmpeg command lines SRS builds for `ingest` and `transcode` engines (read from srs_app_ffmpeg.cpp,
 * srs_app_ingest.cpp and srs_app_encoder.cpp; pure functions, no IO).
 *
 * Argument order (SrsFFMPEG::start):
 *   [iparams: -loglevel <ff_log_level> -re (ingest only)] [perfile] [-f iformat] -i input [vfilter]
 *   (-vcodec v [-b:v vbitrate*1000] [-r vfps] [-s WxH -aspect W:H] [-threads n] [-profile:v p] [-preset p]
 *    [vparams]) | -vn
 *   (-acodec a [-b:a abitrate*1000] [-ar rate] [-ac channels] [aparams]) | -an
 *   [-f oformat] -y output
 * `vcodec copy` drops every video option; `acodec copy` drops the audio options but keeps `-bsf:a aac_adtstoasc`
 * from aparams. iformat is kept only for an rtmp:// input (SRS: "-f flv" before a UDP input would be wrong);
 * `off` or empty leaves a format out. vwidth/vheight are rounded down to even numbers.
 *
 * Ingest (SrsIngester::initialize_ffmpeg): `-loglevel <ff_log_level>` then `-re` for a `file` and a `stream`
 * input; the output's [vhost] [port] and time variables are filled, `vhost=__defaultVhost__` is removed from it;
 * an ingest with no engine, or whose engine is disabled or lacks vcodec/acodec, copies both tracks to FLV.
 * Transcode (SrsEncoder::initialize_ffmpeg): input `rtmp://127.0.0.1:<port>/<app>?vhost=<vhost>/<stream>`, output
 * with [vhost] [port] [app] [stream] [param] [engine] and time variables filled.
 */
import type { EngineConfig, IngestConfig } from "../../config/ffmpeg.ts";
import { DEFAULT_VHOST, parseRtmpUrl } from "../../net/stream-url.ts";
import { expandTimeVars } from "../../formats/path-template.ts";

/** What one FFmpeg run is given (SrsFFMPEG's fields). */
export interface FfmpegJob extends Omit<EngineConfig, "name" | "enabled"> {
  /** Parameters before everything else (ingest: -loglevel, -re). */
  iparams: string[];
  input: string;
}

/** An engine SRS refuses to run (the reason is SRS's message). */
export class EngineError extends Error {}

const COPY = "copy";
const NO_VIDEO = "vn";
const NO_AUDIO = "an";

/** A job that copies both tracks (SrsFFMPEG::initialize_copy). */
export function copyJob(iparams: string[], input: string, output: string): FfmpegJob {
  return {
    iparams, perfile: [], iformat: "", input, vfilter: [], vcodec: COPY, vbitrate: 0, vfps: 0, vwidth: 0, vheight: 0,
    vthreads: 0, vprofile: "", vpreset: "", vparams: [], acodec: COPY, abitrate: 0, asampleRate: 0, achannels: 0,
    aparams: [], oformat: "flv", output,
  };
}

/**
 * A job from an engine (SrsFFMPEG::initialize_transcode), checked as SRS checks it: throws EngineError for an
 * engine SRS refuses (both tracks disabled, an encoder without vprofile/vpreset, bad numbers, no output).
 */
export function engineJob(iparams: string[], input: string, output: string, e: EngineConfig): FfmpegJob {
  const job: FfmpegJob = {
    iparams, perfile: e.perfile, iformat: e.iformat, input, vfilter: e.vfilter, vcodec: e.vcodec, vbitrate: e.vbitrate,
    vfps: e.vfps, vwidth: e.vwidth - (e.vwidth % 2), vheight: e.vheight - (e.vheight % 2), vthreads: e.vthreads,
    vprofile: e.vprofile, vpreset: e.vpreset, vparams: e.vparams, acodec: e.acodec, abitrate: e.abitrate,
    asampleRate: e.asampleRate, achannels: e.achannels, aparams: e.aparams, oformat: e.oformat, output,
  };
  if (job.vcodec === NO_VIDEO && job.acodec === NO_AUDIO) throw new EngineError("video and audio disabled");
  if (job.vcodec !== COPY && job.vcodec !== NO_VIDEO && job.vcodec !== "png") {
    if (job.vbitrate < 0) throw new EngineError(`invalid vbitrate: ${job.vbitrate}`);
    if (job.vfps < 0) throw new EngineError(`invalid vfps: ${job.vfps}`);
    if (job.vwidth < 0) throw new EngineError(`invalid vwidth: ${job.vwidth}`);
    if (job.vheight < 0) throw new EngineError(`invalid vheight: ${job.vheight}`);
    if (job.vthreads < 0) throw new EngineError(`invalid vthreads: ${job.vthreads}`);
    if (!job.vprofile) throw new EngineError(`invalid vprofile: "${job.vprofile}" (vcodec ${job.vcodec || "(none)"} needs vprofile and vpreset)`);
    if (!job.vpreset) throw new EngineError(`invalid vpreset: "${job.vpreset}" (vcodec ${job.vcodec} needs vprofile and vpreset)`);
  }
  if (job.acodec === "libaacplus" && job.abitrate !== 0 && (job.abitrate < 16 || job.abitrate > 72)) {
    throw new EngineError(`invalid abitrate for aac: ${job.abitrate}, must in [16, 72]`);
  }
  if (job.acodec !== COPY && job.acodec !== NO_AUDIO) {
    if (job.abitrate < 0) throw new EngineError(`invalid abitrate: ${job.abitrate}`);
    if (job.asampleRate < 0) throw new EngineError(`invalid sample rate: ${job.asampleRate}`);
    if (job.achannels !== 0 && job.achannels !== 1 && job.achannels !== 2) {
      throw new EngineError(`invalid achannels, must be 1 or 2, actual ${job.achannels}`);
    }
  }
  if (!output) throw new EngineError("invalid empty output");
  if (!input.startsWith("rtmp://")) job.iformat = "";
  return job;
}

const nonEmpty = (xs: readonly string[]): string[] => xs.filter((x) => x !== "");

/** vfps as SRS prints it (srs_float2str: "%.2f"). */
function fps(n: number): string {
  return n.toFixed(2);
}

/** The argument list (without the binary) SrsFFMPEG::start builds for `job`. */
export function ffmpegArgs(job: FfmpegJob): string[] {
  const a: string[] = [...nonEmpty(job.iparams), ...nonEmpty(job.perfile)];
  if (job.iformat && job.iformat !== "off") a.push("-f", job.iformat);
  a.push("-i", job.input, ...nonEmpty(job.vfilter));
  if (job.vcodec !== NO_VIDEO) a.push("-vcodec", job.vcodec);
  else a.push("-vn");
  if (job.vcodec !== COPY && job.vcodec !== NO_VIDEO) {
    if (job.vbitrate > 0) a.push("-b:v", String(job.vbitrate * 1000));
    if (job.vfps > 0) a.push("-r", fps(job.vfps));
    if (job.vwidth > 0 && job.vheight > 0) a.push("-s", `${job.vwidth}x${job.vheight}`, "-aspect", `${job.vwidth}:${job.vheight}`);
    if (job.vthreads > 0) a.push("-threads", String(job.vthreads));
    if (job.vprofile) a.push("-profile:v", job.vprofile);
    if (job.vpreset) a.push("-preset", job.vpreset);
    a.push(...nonEmpty(job.vparams));
  }
  if (job.acodec !== NO_AUDIO) {
    a.push("-acodec", job.acodec);
    if (job.acodec !== COPY) {
      if (job.abitrate > 0) a.push("-b:a", String(job.abitrate * 1000));
      if (job.asampleRate > 0) a.push("-ar", String(job.asampleRate));
      if (job.achannels > 0) a.push("-ac", String(job.achannels));
      a.push(...nonEmpty(job.aparams));
    } else {
      // Audio copy keeps only the ADTS-to-ASC bitstream filter.
      for (let i = 0; i + 1 < job.aparams.length; i++) {
        if (job.aparams[i] === "-bsf:a") {
          if (job.aparams[i + 1] === "aac_adtstoasc") a.push("-bsf:a", "aac_adtstoasc");
          i++;
        }
      }
    }
  } else {
    a.push("-an");
  }
  if (job.oformat && job.oformat !== "off") a.push("-f", job.oformat);
  a.push("-y", job.output);
  return a;
}

/** SRS's srs_path_build_timestamp: [2006] [01] [02] [15] [04] [05] [999] [timestamp] in local time. */
export function fillTime(s: string, t: Date): string {
  return expandTimeVars(s, t.getTime());
}

/** The log file of an FFmpeg (`<ff_log_dir>/ffmpeg-<what>-….log`), or undefined when ff_log_dir is /dev/null. */
export function ffLogFile(dir: string, parts: string[]): string | undefined {
  if (dir === "/dev/null") return undefined;
  return `${dir.replace(/\/+$/, "") || "/"}/${parts.join("-")}.log`;
}

/** One FFmpeg an ingest runs (one per engine, or one copying when it has none). */
export interface IngestRun {
  /** `<vhost>/<id>` plus the engine name when the ingest has several. */
  name: string;
  /** The stream it publishes (vhost/app/stream of an RTMP output), else the output itself. */
  stream: string;
  args: string[];
  output: string;
  /** Where stdout/stderr go (undefined: discarded). */
  logFile: string | undefined;
}

/**
 * The FFmpeg runs of an enabled ingest (SrsIngester::parse_engines). Throws EngineError for an ingest SRS
 * refuses (no input url, an unknown input type, a refused engine).
 */
export function ingestRuns(
  vhost: string,
  ing: IngestConfig,
  o: { port: number; ffLogDir: string; ffLogLevel: string; now?: Date },
): IngestRun[] {
  const type = ing.input.type;
  if (!type) throw new EngineError(`empty input type, ingest=${ing.id}`);
  if (type !== "file" && type !== "stream") throw new EngineError(`invalid ingest=${ing.id} type=${type} (file or stream)`);
  if (!ing.input.url) throw new EngineError(`empty input url, ingest=${ing.id}`);
  const engines: (EngineConfig | undefined)[] = ing.engines.length ? ing.engines : [undefined];
  const now = o.now ?? new Date();
  return engines.map((e) => {
    let output = (e?.output ?? "").replaceAll("[vhost]", vhost).replaceAll("[port]", String(o.port));
    output = fillTime(output, now)
      .replaceAll(`vhost=${DEFAULT_VHOST}`, "")
      .replaceAll("?&", "?")
      .replaceAll("?/", "/")
      .replace(/\?+$/, "");
    if (!output) throw new EngineError(`empty output url, ingest=${ing.id}`);
    let app = "";
    let stream = "";
    let published = output;
    try {
      const u = parseRtmpUrl(output);
      app = u.app;
      stream = u.stream;
      published = `${u.vhost}/${app}/${stream}`;
    } catch {
      // not an RTMP output: the log file name has empty parts, as SRS's
    }
    const iparams = o.ffLogLevel ? ["-loglevel", o.ffLogLevel, "-re"] : ["-re"];
    const transcode = e !== undefined && e.enabled && e.vcodec !== "" && e.acodec !== "";
    const job = transcode ? engineJob(iparams, ing.input.url, output, e) : copyJob(iparams, ing.input.url, output);
    const name = ing.engines.length > 1 ? `${vhost}/${ing.id}/${e?.name ?? ""}` : `${vhost}/${ing.id}`;
    return { name, stream: published, args: ffmpegArgs(job), output, logFile: ffLogFile(o.ffLogDir, ["ffmpeg-ingest", vhost, app, stream]) };
  });
}

/** The stream a transcode reads and the variables of its outputs. */
export interface TranscodeInput {
  vhost: string;
  app: string;
  stream: string;
  /** The publisher's query ("?k=v" or ""), for [param]. */
  param: string;
  /** This server's RTMP port. */
  port: number;
}

/** The input URL SRS gives a transcode FFmpeg: the stream, read back from this server over RTMP. */
export function transcodeInputUrl(i: TranscodeInput): string {
  return `rtmp://127.0.0.1:${i.port}/${i.app}?vhost=${i.vhost}/${i.stream}`;
}

/** An engine's output URL for a stream (SrsEncoder::initialize_ffmpeg). */
export function transcodeOutput(template: string, engine: string, i: TranscodeInput, now = new Date()): string {
  return fillTime(
    template
      .replaceAll("[vhost]", i.vhost)
      .replaceAll("[port]", String(i.port))
      .replaceAll("[app]", i.app)
      .replaceAll("[stream]", i.stream)
      .replaceAll("[param]", i.param)
      .replaceAll("[engine]", engine),
    now,
  );
}

/** The FFmpeg arguments and log file of one transcode engine for a stream; throws EngineError when SRS refuses it. */
export function transcodeRun(e: EngineConfig, i: TranscodeInput, ffLogDir: string, now = new Date()): { args: string[]; output: string; logFile: string | undefined } {
  const output = transcodeOutput(e.output, e.name, i, now);
  const job = engineJob([], transcodeInputUrl(i), output, e);
  const parts = ["ffmpeg-encoder", i.vhost, i.app, i.stream];
  if (e.name) parts.push(e.name);
  return { args: ffmpegArgs(job), output, logFile: ffLogFile(ffLogDir, parts) };
}

const APP_MARK = "\u0001";
const STREAM_MARK = "\u0002";

function markPattern(s: string): RegExp {
  const esc = s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${esc.replaceAll(APP_MARK, ".+").replaceAll(STREAM_MARK, ".+")}$`);
}

/**
 * True when the stream `i` is what the engine's output template makes of some stream of the same vhost
 * (e.g. `livestream_ff` for `[app]/[stream]_[engine]`): transcoding it again with the same transcode would feed
 * the transcode its own output without end. SRS guards this with an exact URL comparison that its own configs'
 * output form never matches; this compares the vhost/app/stream the output template can produce.
 */
export function isOwnOutput(template: string, engine: string, i: TranscodeInput): boolean {
  if (!template) return false;
  const filled = fillTime(
    template
      .replaceAll("[vhost]", i.vhost)
      .replaceAll("[port]", String(i.port))
      .replaceAll("[app]", APP_MARK)
      .replaceAll("[stream]", STREAM_MARK)
      .replaceAll("[param]", i.param)
      .replaceAll("[engine]", engine),
    new Date(),
  );
  let u: ReturnType<typeof parseRtmpUrl>;
  try {
    u = parseRtmpUrl(filled);
  } catch {
    return false; // not an RTMP URL: it does not come back to this server
  }
  if (u.vhost !== i.vhost && !(u.vhost.includes(APP_MARK) || u.vhost.includes(STREAM_MARK))) return false;
  return markPattern(u.app).test(i.app) && markPattern(u.stream).test(i.stream);
}

/**
 * An `exec publish` command line for a stream (SrsNgExec::parse_exec_publish + SrsProcess::initialize): each
 * argument has [vhost] [port] [app] [stream] [tcUrl] [swfUrl] [pageUrl] [url] and the time variables filled;
 * `a>b` arguments are split at ">" and `>file`, `1>file`, `2>file`, `1 > file`, `2 > file` redirect stdout or stderr
 * to a file (appended). The binary is the first argument.
 */
export function execCommand(
  argv: readonly string[],
  v: { vhost: string; port: number; app: string; stream: string; tcUrl: string; swfUrl: string; pageUrl: string; url: string },
  now = new Date(),
): { bin: string; args: string[]; stdout?: string; stderr?: string } {
  const fill = (t: string): string => {
    let s = t
      .replaceAll("[vhost]", v.vhost)
      .replaceAll("[port]", String(v.port))
      .replaceAll("[app]", v.app)
      .replaceAll("[stream]", v.stream)
      .replaceAll("[tcUrl]", v.tcUrl)
      .replaceAll("[swfUrl]", v.swfUrl)
      .replaceAll("[pageUrl]", v.pageUrl);
    s = fillTime(s, now);
    return s.replaceAll("[url]", v.url);
  };
  const split: string[] = [];
  for (const a of argv) {
    if (!a.includes(">")) {
      split.push(fill(a));
      continue;
    }
    const parts = a.split(">");
    parts.forEach((p, j) => {
      if (p !== "") split.push(fill(p));
      if (j === 0) split.push(">");
    });
  }
  let stdout: string | undefined;
  let stderr: string | undefined;
  const params: string[] = [];
  for (let i = 0; i < split.length; i++) {
    const a = split[i]!;
    const next = split[i + 1] ?? "";
    const next2 = split[i + 2] ?? "";
    if (a === ">") {
      // `> file` (SRS would pass the file as an argument; the shell meaning is clearly what is asked)
      if (next) stdout = next;
      i++;
      continue;
    }
    if (a.startsWith(">")) {
      stdout = a.slice(1);
      continue;
    }
    if (a.startsWith("1>")) {
      stdout = a.slice(2);
      continue;
    }
    if (a.startsWith("2>")) {
      stderr = a.slice(2);
      continue;
    }
    if ((a === "1" || a === "2") && next.startsWith(">")) {
      let file = next.slice(1);
      if (next === ">") {
        file = next2;
        if (next2) i++;
      }
      if (a === "1") stdout = file;
      else stderr = file;
      i++;
      continue;
    }
    if (a === "") continue;
    params.push(a);
  }
  return { bin: params[0] ?? "", args: params.slice(1), stdout: stdout || undefined, stderr: stderr || undefined };
}
