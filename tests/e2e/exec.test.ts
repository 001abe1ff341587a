/**
 * Exec end to end: exec.conf's line (`publish ./objs/ffmpeg/bin/ffmpeg -f flv -i [url] -c copy -y ./[stream].flv`)
 * runs the real FFmpeg on publish, which writes the FLV file it was told to; at unpublish it gets SIGTERM and
 * finishes the file (ffprobe reads it whole). It also runs for an ingest's stream, as SRS runs it for every
 * publish of the vhost; `2>file` sends the program's stderr to that file.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { clip } from "../helpers/media.ts";
import { alive, processes } from "../helpers/processes.ts";
import { probeStreams, publish, run, startServer } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";

const { servers, track } = cleanupAfterAll();

const conf = (vhostBody: string) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
vhost __defaultVhost__ {
  exec {
    enabled on;
    publish ./objs/ffmpeg/bin/ffmpeg -f flv -i [url] -c copy -y ./[stream].flv 2>./[app]-[stream].log;
  }
  ${vhostBody}
}
`;

async function duration(file: string): Promise<number> {
  const p = run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file], { timeoutMs: 15000 });
  await p.done;
  return Number(p.output().trim());
}

describe("exec", () => {
  test("exec.conf: FFmpeg records the published stream to ./[stream].flv and finishes it at unpublish", async () => {
    const s = await startServer({ config: conf("") });
    servers.push(s);
    const pub = track(publish(clip("clip.flv"), s.rtmpUrl("/live/ex")));
    await waitFor("the exec program", async () => (await processes(s)).some((p) => p.kind === "exec" && p.state === "running"), 10000, s);
    const [p] = await processes(s);
    expect(p!.cmdline).toContain(`-f flv -i rtmp://127.0.0.1:${s.rtmp}/live/ex -c copy -y ./ex.flv`);
    await Bun.sleep(4000);
    pub.kill();
    await waitFor("the exec FFmpeg gone after unpublish", () => !alive(p!.pid!), 5000, s);
    const file = join(s.dir, "ex.flv");
    expect(existsSync(file)).toBe(true);
    const streams = await probeStreams(file);
    expect(streams.map((x) => x.codec_name).sort()).toEqual(["aac", "h264"]);
    const d = await duration(file);
    console.log(`exec recorded ${d.toFixed(2)} s to ex.flv`);
    expect(d).toBeGreaterThan(2);
    // FFmpeg's stderr went to the 2> file: it read the stream and finished the file (its final stats line). It ends
    // on the SIGTERM, or, when the end of the stream reaches it first, on its own.
    const log = readFileSync(join(s.dir, "live-ex.log"), "utf8");
    expect(log).toContain("Input #0, flv, from 'rtmp://127.0.0.1:");
    expect(log).toContain("muxing overhead");
  }, 60000);

  test("an ingest's stream gets the exec too", async () => {
    const s = await startServer({
      config: conf(`ingest cam {
    enabled on;
    input { type file; url ${clip("clip.flv")}; }
    ffmpeg ffmpeg;
    engine { enabled off; output rtmp://127.0.0.1:[port]/live/cam; }
  }`),
    });
    servers.push(s);
    await waitFor("exec of the ingest stream", async () => (await processes(s)).some((p) => p.kind === "exec" && p.stream === "__defaultVhost__/live/cam" && p.state === "running"), 15000, s);
    await waitFor("cam.flv written", () => existsSync(join(s.dir, "cam.flv")) && readFileSync(join(s.dir, "cam.flv")).length > 100000, 15000, s);
  }, 60000);
});
