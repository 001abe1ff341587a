/**
 * RtmpClient against FFmpeg acting as an RTMP server (`-listen 1`): publishing to it and playing from it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RtmpClient } from "../../lib/protocols/rtmp/client.ts";
import { MSG_AUDIO, MSG_VIDEO } from "../../lib/protocols/rtmp/messages.ts";
import type { RtmpMessage } from "../../lib/protocols/rtmp/messages.ts";
import { clip } from "../helpers/media.ts";
import { freePort } from "../helpers/ports.ts";
import { tempDir } from "../helpers/temp.ts";

const children: ChildProcess[] = [];
const dir = tempDir("rtmp-client-");
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function ffmpeg(args: string[]): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(proc);
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => proc.on("exit", (code) => res(code)));
  return { proc, stderr: () => err, exited };
}

/** FFmpeg needs a moment to listen: retry connecting until it accepts. */
async function connectRetry(url: string, ms: number, opts: Parameters<typeof RtmpClient.connect>[1] = {}): Promise<RtmpClient> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await RtmpClient.connect(url, { timeoutMs: 5000, ...opts });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface Tag {
  type: number;
  timestamp: number;
  data: Uint8Array;
}

/** Minimal FLV tag scan (header, then type/size/timestamp/streamId/data/prevTagSize). */
function flvTags(bytes: Uint8Array): Tag[] {
  const tags: Tag[] = [];
  const headerLen = (bytes[5]! << 24) | (bytes[6]! << 16) | (bytes[7]! << 8) | bytes[8]!;
  let o = headerLen + 4;
  while (o + 11 <= bytes.length) {
    const type = bytes[o]! & 0x1f;
    const size = (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
    const ts = ((bytes[o + 7]! << 24) | (bytes[o + 4]! << 16) | (bytes[o + 5]! << 8) | bytes[o + 6]!) >>> 0;
    if (o + 11 + size > bytes.length) break;
    tags.push({ type, timestamp: ts, data: bytes.subarray(o + 11, o + 11 + size) });
    o += 11 + size + 4;
  }
  return tags;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timeout after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(t));
}

describe("RtmpClient vs FFmpeg", () => {
  for (const chunkSize of [60000, 128]) {
    test(`publish clip.flv to FFmpeg listening (chunk size ${chunkSize}); the recording is h264+aac, ~3 s`, async () => {
      const port = await freePort();
      const out = join(dir, `out-${chunkSize}.flv`);
      const ff = ffmpeg(["-y", "-listen", "1", "-i", `rtmp://127.0.0.1:${port}/live/s`, "-c", "copy", "-t", "3", out]);
      const c = await connectRetry(`rtmp://127.0.0.1:${port}/live/s`, 10000, { chunkSize });
      await c.publish();
      expect(c.streamId).toBeGreaterThan(0);
      const tags = flvTags(new Uint8Array(readFileSync(clip("clip.flv"))));
      expect(tags.length).toBeGreaterThan(100);
      let sent = 0;
      for (const t of tags) {
        if (t.timestamp > 4000) break; // FFmpeg stops at 3 s
        if (!c.sendMedia(t.type === 8 ? "audio" : t.type === 9 ? "video" : "data", t.timestamp, t.data)) await c.drain();
        sent++;
      }
      expect(sent).toBeGreaterThan(50);
      const code = await timeout(ff.exited, 20000, "ffmpeg recording").catch((e: Error) => {
        throw new Error(`${e.message}; ffmpeg said: ${ff.stderr()}`);
      });
      await c.close();
      expect(code, ff.stderr()).toBe(0);
      const probe = JSON.parse(
        execFileSync("ffprobe", ["-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "json", out]).toString(),
      ) as { streams: Array<{ codec_name: string }>; format: { duration: string } };
      expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(["aac", "h264"]);
      const dur = Number(probe.format.duration);
      expect(dur).toBeGreaterThan(2.5);
      expect(dur).toBeLessThan(3.6);
    }, 40000);
  }

  test("play from FFmpeg serving clip.flv: receives the AVC/AAC sequence headers and frames", async () => {
    const port = await freePort();
    const ff = ffmpeg(["-re", "-i", clip("clip.flv"), "-c", "copy", "-f", "flv", "-listen", "1", `rtmp://127.0.0.1:${port}/live/s`]);
    const c = await connectRetry(`rtmp://127.0.0.1:${port}/live/s`, 10000);
    await c.play();
    const got: RtmpMessage[] = [];
    let avcSeq = false;
    let aacSeq = false;
    const collect = (async () => {
      for await (const m of c.messages()) {
        got.push(m);
        if (m.type === MSG_VIDEO && (m.payload[0]! & 0x0f) === 7 && m.payload[1] === 0) avcSeq = true;
        if (m.type === MSG_AUDIO && m.payload[0]! >> 4 === 10 && m.payload[1] === 0) aacSeq = true;
        const videoFrames = got.filter((x) => x.type === MSG_VIDEO).length;
        if (avcSeq && aacSeq && videoFrames > 20) return;
      }
    })();
    await timeout(collect, 20000, "play").catch((e: Error) => {
      throw new Error(`${e.message}; got ${got.length} messages; ffmpeg said: ${ff.stderr()}`);
    });
    await c.close();
    ff.proc.kill("SIGKILL");
    expect(avcSeq).toBe(true);
    expect(aacSeq).toBe(true);
    const video = got.filter((m) => m.type === MSG_VIDEO);
    expect(video.length).toBeGreaterThan(20);
    // timestamps move forward on the video track
    expect(video[video.length - 1]!.timestamp).toBeGreaterThan(video[1]!.timestamp);
    // first video frame after the sequence header is a keyframe
    const firstFrame = video.find((m) => m.payload[1] === 1)!;
    expect(firstFrame.payload[0]! >> 4).toBe(1);
  }, 40000);
});
