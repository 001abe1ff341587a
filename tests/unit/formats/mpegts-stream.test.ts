/** HTTP-TS shared encoder: a hub's packets through the shared tsOutput to two players (one joining late), checked by ffprobe. */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BytePlayer, type ByteSink } from "../../../lib/hub/fanout.ts";
import { StreamHub } from "../../../lib/hub/stream-hub.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { type TsFanOut, tsOutput } from "../../../lib/outputs/ts-fanout.ts";
import { clip } from "../../helpers/media.ts";
import { demuxFlv } from "../../../lib/formats/flv.ts";
import { flvTagToPacket } from "../../../lib/media/flv-codec.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { readFileSync } from "node:fs";
import { tempDir } from "../../helpers/temp.ts";

function flvPackets(path: string): MediaPacket[] {
  const out: MediaPacket[] = [];
  for (const t of demuxFlv(new Uint8Array(readFileSync(path))).tags) {
    const p = flvTagToPacket(t.type, t.timestamp, t.data);
    if (p) out.push(p);
  }
  return out;
}

const work = tempDir("srs-ts-tsstream-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

class Sink implements ByteSink {
  chunks: Uint8Array[] = [];
  writableLength = 0;
  destroyed = false;
  write(d: Uint8Array): boolean {
    this.chunks.push(d.slice());
    return true;
  }
}

function probe(file: string): { streams: string[]; video: number; audio: number } {
  const j = JSON.parse(execFileSync("ffprobe", ["-v", "error", "-show_streams", "-count_packets", "-of", "json", file]).toString()) as {
    streams: { codec_name: string; codec_type: string; nb_read_packets: string }[];
  };
  return {
    streams: j.streams.map((s) => s.codec_name).sort(),
    video: Number(j.streams.find((s) => s.codec_type === "video")?.nb_read_packets ?? 0),
    audio: Number(j.streams.find((s) => s.codec_type === "audio")?.nb_read_packets ?? 0),
  };
}

for (const audioOnly of [false, true]) {
  test(`tsOutput: players get PAT/PMT first and a decodable stream${audioOnly ? " (audio only)" : ""}`, () => {
    const hub = new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "s" }, { gopCache: true, gopCacheMaxFrames: 2500, timeJitter: "off" }, new Log(new LogSink({ level: "error" })), "vid-test");
    hub.startPublish({ clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} });
    const packets = flvPackets(clip("clip.flv")).filter((p) => !audioOnly || p.kind !== "video");
    const opts = { mwLatencyMs: 0, minLatency: true, queueSeconds: 30 };
    const events = { onOverflow: () => {}, onUnpublish: () => {} };
    const s1 = new Sink();
    const s2 = new Sink();
    let p2: BytePlayer | undefined;
    let output: TsFanOut | undefined;
    const half = Math.floor(packets.length / 2);
    packets.forEach((p, i) => {
      hub.publish(p);
      // Players lease the hub's one shared TS output; it sends PAT+PMT to each joining player first.
      if (i === 5) output = hub.play(tsOutput(opts), new BytePlayer(s1, events)).output;
      if (i === half) {
        p2 = new BytePlayer(s2, events);
        expect(hub.play(tsOutput(opts), p2).output).toBe(output!);
        expect(output!.size).toBe(2);
      }
      output?.flushAll();
    });
    expect(p2).toBeDefined();
    for (const [name, sink] of [["a", s1], ["b", s2]] as const) {
      const bytes = Buffer.concat(sink.chunks);
      expect(bytes.length % 188).toBe(0);
      expect(bytes[0]).toBe(0x47);
      expect(bytes.readUInt16BE(1) & 0x1fff).toBe(0); // PAT first
      const file = join(work, `${name}${audioOnly ? "-a" : ""}.ts`);
      writeFileSync(file, bytes);
      const r = probe(file);
      expect(r.streams).toEqual(audioOnly ? ["aac"] : ["aac", "h264"]);
      if (!audioOnly) expect(r.video).toBeGreaterThan(name === "a" ? 240 : 100);
      expect(r.audio).toBeGreaterThan(name === "a" ? 400 : 150);
      const err = execFileSync("bash", ["-c", `ffmpeg -hide_banner -v error -i '${file}' -f null - 2>&1`]).toString();
      expect(err).toBe("");
    }
  });
}
