/**
 * The FFmpeg command lines of ingest and transcode engines (lib/services/ffmpeg/args.ts) against the lists SRS
 * builds for the same engines (read from SrsFFMPEG::start), one table row per engine; then every engine of SRS's
 * own configs (the corpus) through the builder; exec's templates and redirections.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../../../lib/config/index.ts";
import {
  EngineError, execCommand, ingestRuns, isOwnOutput, type TranscodeInput, transcodeRun,
} from "../../../lib/services/ffmpeg/args.ts";
import { resolveProgram } from "../../../lib/services/ffmpeg/binary.ts";
import { withAvailableEncoders } from "../../../lib/services/ffmpeg/encoders.ts";
import { describeWithCorpus } from "../../helpers/srs-conf-corpus.ts";

const IN: TranscodeInput = { vhost: "__defaultVhost__", app: "live", stream: "livestream", param: "", port: 1935 };
const SRC = "rtmp://127.0.0.1:1935/live?vhost=__defaultVhost__/livestream";

function transcodeEngine(engine: string) {
  const cfg = loadConfig({ text: `listen 1935;\nvhost __defaultVhost__ { transcode { enabled on; ffmpeg ffmpeg; engine ${engine} } }\n`, env: {} });
  return cfg.vhost()!.transcodes[0]!.engines[0]!;
}

const TRANSCODE: { name: string; engine: string; args: string[] }[] = [
  {
    name: "ffmpeg.transcode.conf: libx264 + an audio encoder, empty parameter blocks",
    engine: "ff { enabled on; vfilter { } vcodec libx264; vthreads 4; vprofile main; vpreset medium; vparams { } acodec libfdk_aac; aparams { } output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost]; }",
    args: ["-f", "flv", "-i", SRC, "-vcodec", "libx264", "-threads", "4", "-profile:v", "main", "-preset", "medium",
      "-acodec", "libfdk_aac", "-f", "flv", "-y", "rtmp://127.0.0.1:1935/live/livestream_ff?vhost=__defaultVhost__"],
  },
  {
    name: "transcode2hls.audio.only.conf: video copy drops every video option, audio re-encoded",
    engine: "ff { enabled on; vcodec copy; vbitrate 800; vprofile main; acodec aac; abitrate 45; asample_rate 44100; achannels 2; aparams { profile:a aac_low; } output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost]; }",
    args: ["-f", "flv", "-i", SRC, "-vcodec", "copy", "-acodec", "aac", "-b:a", "45000", "-ar", "44100", "-ac", "2",
      "-profile:a", "aac_low", "-f", "flv", "-y", "rtmp://127.0.0.1:1935/live/livestream_ff?vhost=__defaultVhost__"],
  },
  {
    name: "full.conf example engine: perfile, vfilter, every video and audio option, in SRS's order",
    engine: "example { enabled on; perfile { re; rtsp_transport tcp; } iformat flv; vfilter { i ./doc/ffmpeg-logo.png; filter_complex 'overlay=10:10'; } vcodec libx264; vbitrate 1500; vfps 25; vwidth 768; vheight 320; vthreads 12; vprofile main; vpreset medium; vparams { t 100; coder 1; b_strategy 2; bf 3; refs 10; } acodec libfdk_aac; abitrate 70; asample_rate 44100; achannels 2; aparams { profile:a aac_low; } oformat flv; output rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]; }",
    args: ["-re", "-rtsp_transport", "tcp", "-f", "flv", "-i", SRC, "-i", "./doc/ffmpeg-logo.png", "-filter_complex", "overlay=10:10",
      "-vcodec", "libx264", "-b:v", "1500000", "-r", "25.00", "-s", "768x320", "-aspect", "768:320", "-threads", "12",
      "-profile:v", "main", "-preset", "medium", "-t", "100", "-coder", "1", "-b_strategy", "2", "-bf", "3", "-refs", "10",
      "-acodec", "libfdk_aac", "-b:a", "70000", "-ar", "44100", "-ac", "2", "-profile:a", "aac_low",
      "-f", "flv", "-y", "rtmp://127.0.0.1:1935/live?vhost=__defaultVhost__/livestream_example"],
  },
  {
    name: "vn / an: no video, audio copy keeps only -bsf:a aac_adtstoasc of aparams",
    engine: "a { enabled on; vcodec vn; acodec copy; aparams { bsf:a aac_adtstoasc; ar 8000; } output rtmp://h/[app]/[stream]_a; }",
    args: ["-f", "flv", "-i", SRC, "-vn", "-acodec", "copy", "-bsf:a", "aac_adtstoasc", "-f", "flv", "-y", "rtmp://h/live/livestream_a"],
  },
  {
    name: "odd sizes are made even; iformat/oformat off leave the format out; names starting with - keep one dash",
    engine: "s { enabled on; iformat off; vcodec libx264; vprofile baseline; vpreset fast; vwidth 321; vheight 241; vthreads 0; vparams { -g 50; } acodec an; oformat off; output /tmp/[stream].mp4; }",
    args: ["-i", SRC, "-vcodec", "libx264", "-s", "320x240", "-aspect", "320:240", "-profile:v", "baseline", "-preset", "fast",
      "-g", "50", "-an", "-y", "/tmp/livestream.mp4"],
  },
];

describe("transcode engine args (SrsFFMPEG::start order)", () => {
  for (const row of TRANSCODE) {
    test(row.name, () => {
      expect(transcodeRun(transcodeEngine(row.engine), IN, "./objs").args).toEqual(row.args);
    });
  }

  test("[param] and [engine] are filled; the log file is ffmpeg-encoder-<vhost>-<app>-<stream>-<engine>.log", () => {
    const r = transcodeRun(transcodeEngine("hd { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/[app]/[stream]_[engine][param]; }"), { ...IN, param: "?token=x" }, "./objs");
    expect(r.output).toBe("rtmp://127.0.0.1:1935/live/livestream_hd?token=x");
    expect(r.logFile).toBe("./objs/ffmpeg-encoder-__defaultVhost__-live-livestream-hd.log");
    expect(transcodeRun(transcodeEngine("hd { enabled on; vcodec copy; acodec copy; output x; }"), IN, "/dev/null").logFile).toBeUndefined();
  });

  const REFUSED: [string, string][] = [
    ["libx264 without vprofile", "e { enabled on; vcodec libx264; vpreset medium; acodec aac; output x; }"],
    ["libx264 without vpreset", "e { enabled on; vcodec libx264; vprofile main; acodec aac; output x; }"],
    ["video and audio off", "e { enabled on; vcodec vn; acodec an; output x; }"],
    ["three channels", "e { enabled on; vcodec copy; acodec aac; achannels 3; output x; }"],
    ["libaacplus at 100 kbps", "e { enabled on; vcodec copy; acodec libaacplus; abitrate 100; output x; }"],
    ["no output", "e { enabled on; vcodec copy; acodec copy; }"],
  ];
  for (const [what, engine] of REFUSED) {
    test(`refused as SRS refuses it: ${what}`, () => {
      expect(() => transcodeRun(transcodeEngine(engine), IN, "./objs")).toThrow(EngineError);
    });
  }

  test("a stream an engine of the transcode outputs is recognized (no transcode of its own output)", () => {
    const tpl = "rtmp://127.0.0.1:[port]/[app]/[stream]_[engine]?vhost=[vhost]";
    expect(isOwnOutput(tpl, "ff", IN)).toBe(false);
    expect(isOwnOutput(tpl, "ff", { ...IN, stream: "livestream_ff" })).toBe(true);
    expect(isOwnOutput(tpl, "ff", { ...IN, stream: "livestream_sd" })).toBe(false);
    // SRS's own form with the query in the app.
    expect(isOwnOutput("rtmp://127.0.0.1:[port]/[app]?vhost=[vhost]/[stream]_[engine]", "ff", { ...IN, stream: "x_ff" })).toBe(true);
    // Another app: not fed back to a transcode of this app, but a vhost-wide one sees it.
    expect(isOwnOutput("rtmp://127.0.0.1:[port]/[app]_hd/[stream]", "hd", { ...IN, app: "live_hd" })).toBe(true);
    expect(isOwnOutput("rtmp://127.0.0.1:[port]/hd/[stream]", "hd", IN)).toBe(false);
    // Another vhost, or not RTMP at all.
    expect(isOwnOutput("rtmp://127.0.0.1:[port]/[app]/[stream]_x?vhost=other", "x", { ...IN, stream: "a_x" })).toBe(false);
    expect(isOwnOutput("./objs/[stream].flv", "x", IN)).toBe(false);
  });
});

describe("ingest args (SrsIngester::initialize_ffmpeg)", () => {
  const ingests = (text: string) => loadConfig({ text: `listen 1935;\n${text}\n`, env: {} });
  const runs = (text: string, vhost = "__defaultVhost__", o = { port: 1935, ffLogDir: "./objs", ffLogLevel: "info" }) =>
    ingestRuns(vhost, ingests(text).vhost(vhost)!.ingests[0]!, o);

  test("ingest.conf: a disabled engine copies; -loglevel and -re first; vhost=__defaultVhost__ removed from the output", () => {
    const [r] = runs("vhost __defaultVhost__ { ingest livestream { enabled on; input { type file; url ./doc/source.flv; } ffmpeg ./objs/ffmpeg/bin/ffmpeg; engine { enabled off; output rtmp://127.0.0.1:[port]/live/livestream?vhost=[vhost]; } } }");
    expect(r!.args).toEqual(["-loglevel", "info", "-re", "-i", "./doc/source.flv", "-vcodec", "copy", "-acodec", "copy", "-f", "flv", "-y", "rtmp://127.0.0.1:1935/live/livestream"]);
    expect(r!.logFile).toBe("./objs/ffmpeg-ingest-__defaultVhost__-live-livestream.log");
  });

  test("ingest.rtsp.conf: a stream input with copy codecs keeps perfile (rtsp_transport tcp), no -f before the input", () => {
    const [r] = runs("vhost __defaultVhost__ { ingest { enabled on; input { type stream; url rtsp://admin:pw@192.168.2.21:554/Streaming/Channels/501?transportmode=unicast; } ffmpeg ./objs/ffmpeg/bin/ffmpeg; engine { enabled on; perfile { rtsp_transport tcp; } vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/live/livestream?vhost=[vhost]; } } }", "__defaultVhost__", { port: 19350, ffLogDir: "/dev/null", ffLogLevel: "warning" });
    expect(r!.args).toEqual(["-loglevel", "warning", "-re", "-rtsp_transport", "tcp", "-i", "rtsp://admin:pw@192.168.2.21:554/Streaming/Channels/501?transportmode=unicast",
      "-vcodec", "copy", "-acodec", "copy", "-f", "flv", "-y", "rtmp://127.0.0.1:19350/live/livestream"]);
    expect(r!.logFile).toBeUndefined();
  });

  test("a named vhost stays in the output; one run per engine", () => {
    const c = "vhost v.com { ingest cam { enabled on; input { type stream; url http://a/b.flv; } ffmpeg ffmpeg; engine sd { enabled on; vcodec libx264; vprofile main; vpreset fast; vwidth 640; vheight 360; acodec copy; output rtmp://127.0.0.1:[port]/live/cam_sd?vhost=[vhost]; } engine copy { enabled on; vcodec copy; acodec copy; output rtmp://127.0.0.1:[port]/live/cam?vhost=[vhost]; } } }";
    const r = runs(c, "v.com");
    expect(r.map((x) => x.output)).toEqual(["rtmp://127.0.0.1:1935/live/cam_sd?vhost=v.com", "rtmp://127.0.0.1:1935/live/cam?vhost=v.com"]);
    expect(r.map((x) => x.name)).toEqual(["v.com/cam/sd", "v.com/cam/copy"]);
    expect(r[0]!.args).toContain("-s");
    // No engine: no output to publish to, as SRS ("empty output url").
    expect(() => runs("vhost __defaultVhost__ { ingest x { enabled on; input { type file; url a.flv; } ffmpeg ffmpeg; } }")).toThrow(/empty output/);
  });

  test("refused: device input, no url, a refused engine", () => {
    expect(() => runs("vhost __defaultVhost__ { ingest x { enabled on; input { type device; url /dev/video0; } ffmpeg ffmpeg; engine { enabled off; output rtmp://h/a/b; } } }")).toThrow(EngineError);
    expect(() => runs("vhost __defaultVhost__ { ingest x { enabled on; input { type file; } ffmpeg ffmpeg; engine { enabled off; output rtmp://h/a/b; } } }")).toThrow(EngineError);
    expect(() => runs("vhost __defaultVhost__ { ingest x { enabled on; input { type file; url a; } ffmpeg ffmpeg; engine { enabled on; vcodec libx264; acodec aac; output rtmp://h/a/b; } } }")).toThrow(/vprofile/);
  });
});

describe("exec publish command lines (SrsNgExec)", () => {
  const v = { vhost: "__defaultVhost__", port: 1935, app: "live", stream: "s", tcUrl: "rtmp://h/live", swfUrl: "", pageUrl: "", url: "rtmp://127.0.0.1:1935/live/s" };
  test("exec.conf: variables filled, the binary is the first argument", () => {
    const c = execCommand(["./objs/ffmpeg/bin/ffmpeg", "-f", "flv", "-i", "[url]", "-c", "copy", "-y", "./[stream].flv"], v);
    expect(c).toEqual({ bin: "./objs/ffmpeg/bin/ffmpeg", args: ["-f", "flv", "-i", "rtmp://127.0.0.1:1935/live/s", "-c", "copy", "-y", "./s.flv"], stdout: undefined, stderr: undefined });
  });
  test("redirections: 1>f, 2>f, 1 > f, > f, a>b", () => {
    expect(execCommand(["p", "x", "1>o.log", "2>e.log"], v)).toMatchObject({ bin: "p", args: ["x"], stdout: "o.log", stderr: "e.log" });
    expect(execCommand(["p", "1", ">", "o.log", "2", ">", "[stream].err"], v)).toMatchObject({ args: [], stdout: "o.log", stderr: "s.err" });
    expect(execCommand(["p", ">", "o.log"], v)).toMatchObject({ args: [], stdout: "o.log" });
    expect(execCommand(["p", "a>o.log"], v)).toMatchObject({ args: ["a"], stdout: "o.log" });
  });
});

describe("the program to run", () => {
  test("SRS's bundled FFmpeg path falls back to ffmpeg on PATH; other missing paths are missing", () => {
    const b = resolveProgram("./no/such/objs/ffmpeg/bin/ffmpeg");
    expect("path" in b && b.fallback).toBe("./no/such/objs/ffmpeg/bin/ffmpeg");
    expect(resolveProgram("/no/such/ffmpeg")).toEqual({ missing: "/no/such/ffmpeg does not exist or is not executable" });
    expect(resolveProgram("no-such-program-xyz")).toEqual({ missing: "no-such-program-xyz is not on PATH" });
  });
});

describe("encoders the FFmpeg lacks", () => {
  test("libfdk_aac / libaacplus become aac when absent; kept when present or when the encoders are unknown", () => {
    const args = ["-i", "x", "-vcodec", "copy", "-acodec", "libfdk_aac", "-y", "o"];
    expect(withAvailableEncoders(args, new Set(["aac", "libx264"]))).toEqual({ args: ["-i", "x", "-vcodec", "copy", "-acodec", "aac", "-y", "o"], replaced: ["libfdk_aac -> aac"] });
    expect(withAvailableEncoders(args, new Set(["aac", "libfdk_aac"])).args).toEqual(args);
    expect(withAvailableEncoders(args, undefined).args).toEqual(args);
    expect(withAvailableEncoders(["-acodec", "libopus"], new Set(["aac"])).args).toEqual(["-acodec", "libopus"]);
  });
});

describeWithCorpus("every engine of SRS's configs builds a command line", (corpus) => {
  for (const f of corpus.files) {
    const text = readFileSync(join(corpus.dir, f), "utf8");
    if (!/\b(transcode|ingest)\b/.test(text)) continue;
    test(f, () => {
      let cfg;
      try {
        cfg = loadConfig({ file: join(corpus.dir, f), env: {} });
      } catch {
        return; // a config srs-ts refuses is another test's business (includes, other files)
      }
      for (const name of cfg.vhosts()) {
        const vh = cfg.vhostExact(name)!;
        for (const t of vh.transcodes) {
          for (const e of t.engines) {
            let r;
            try {
              r = transcodeRun(e, IN, "./objs");
            } catch (err) {
              expect(err).toBeInstanceOf(EngineError);
              continue;
            }
            const a = r.args;
            expect(a.slice(a.indexOf("-i"), a.indexOf("-i") + 2)).toEqual(["-i", SRC]);
            expect(a.at(-2)).toBe("-y");
            expect(a.at(-1)).toBe(r.output);
            expect(a.includes("-vcodec") !== a.includes("-vn")).toBe(true);
            expect(a.includes("-acodec") !== a.includes("-an")).toBe(true);
            if (e.vcodec === "copy") expect(a).not.toContain("-b:v");
            expect(r.output).not.toContain("[");
          }
        }
        for (const ing of vh.ingests) {
          if (!ing.enabled) continue;
          let runs;
          try {
            runs = ingestRuns(name, ing, { port: 1935, ffLogDir: "./objs", ffLogLevel: "info" });
          } catch (err) {
            expect(err).toBeInstanceOf(EngineError);
            continue;
          }
          for (const r of runs) {
            expect(r.args.slice(0, 3)).toEqual(["-loglevel", "info", "-re"]);
            expect(r.args.at(-1)).toBe(r.output);
            expect(r.output).not.toContain("[port]");
            expect(r.output).not.toContain("[vhost]");
          }
        }
      }
    });
  }
});
