/**
 * The receive side of RTSP publish and pull (lib/protocols/rtsp/receiver.ts): FFmpeg's RTP fixtures become the
 * MediaPackets the hub takes (config first, keyframe first, timestamps in ms), and seeded garbage (random,
 * mutated fixture packets, hostile SDP) never throws and never grows what is held.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseRtpPacket, type RtpPacket } from "../../../lib/formats/rtp-packet.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { TrackReceiver } from "../../../lib/protocols/rtsp/receiver.ts";
import { parseSdp } from "../../../lib/protocols/rtsp/sdp.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { REPO_ROOT } from "../../helpers/media.ts";
import { prng } from "../../helpers/prng.ts";

const DIR = join(REPO_ROOT, "tests/fixtures/rtp");
const log = new Log(new LogSink({ tank: "console", level: "error" }), "test");

function raw(name: string): Uint8Array[] {
  const b = new Uint8Array(readFileSync(join(DIR, `${name}.rtp`)));
  const out: Uint8Array[] = [];
  for (let o = 0; o + 2 <= b.length;) {
    const n = (b[o]! << 8) | b[o + 1]!;
    out.push(b.subarray(o + 2, o + 2 + n));
    o += 2 + n;
  }
  return out;
}

function receive(name: string, packets: Uint8Array[] = raw(name)): MediaPacket[] {
  const track = parseSdp(readFileSync(join(DIR, `${name}.sdp`), "utf8")).tracks[0]!;
  const got: MediaPacket[] = [];
  const r = new TrackReceiver(track, (p) => got.push(p), log);
  packets.forEach((b, i) => {
    const p = parseRtpPacket(b);
    if (typeof p === "string") return;
    r.push(p.payload, p.sequence, p.timestamp, p.marker, p.payloadType, i * 10);
  });
  r.flush();
  return got;
}

describe("TrackReceiver on FFmpeg's RTP", () => {
  test("H.264: the configuration record from in-band SPS/PPS first, then 10 frames from a keyframe, 100 ms apart", () => {
    const got = receive("h264");
    expect(got[0]).toMatchObject({ kind: "video", codec: "h264", config: true });
    const frames = got.filter((p) => !p.config);
    expect(frames).toHaveLength(10);
    expect(frames[0]!.keyframe).toBe(true);
    expect(frames[1]!.pts - frames[0]!.pts).toBe(100);
    expect(frames.every((f) => f.dts <= f.pts)).toBe(true);
  });

  test("H.265, AAC (mpeg4-generic and LATM), Opus, PCMA", () => {
    const h265 = receive("h265");
    expect(h265[0]).toMatchObject({ codec: "h265", config: true });
    expect(h265.filter((p) => !p.config)).toHaveLength(10);
    for (const name of ["aac", "aac-latm"]) {
      const aac = receive(name);
      expect(aac[0]).toMatchObject({ codec: "aac", config: true });
      expect(aac.length - 1).toBeGreaterThanOrEqual(43);
    }
    const opus = receive("opus");
    expect(opus[0]).toMatchObject({ codec: "opus", config: true });
    expect(opus.length - 1).toBe(51);
    expect(receive("pcma").every((p) => p.codec === "pcma" && !p.config)).toBe(true);
  });
});

describe("garbage", () => {
  test("seeded: mutated fixture packets and random payloads never throw", () => {
    const rand = prng(7);
    for (const name of ["h264", "h265", "aac", "aac-latm", "opus", "pcma"]) {
      for (let run = 0; run < 60; run++) {
        const packets = raw(name).map((b) => {
          const c = b.slice();
          const flips = Math.floor(rand() * 4);
          for (let k = 0; k < flips; k++) c[12 + Math.floor(rand() * Math.max(1, c.length - 12))] = Math.floor(rand() * 256);
          return rand() < 0.05 ? c.subarray(0, Math.floor(rand() * c.length)) : c;
        }).filter(() => rand() > 0.05);
        expect(() => receive(name, packets)).not.toThrow();
      }
    }
  });

  test("hostile SDP: too many media refused, odd lines skipped", () => {
    expect(() => parseSdp("v=0\n" + "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n".repeat(20))).toThrow();
    const rand = prng(11);
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: 20 }, () => {
        const pick = ["m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=fmtp:96 sprop-parameter-sets=@@@,Z0IA", "a=control:x", "m=audio 0 RTP/AVP 97 8", "a=rtpmap:97 MPEG4-GENERIC/0/0", "a=fmtp:97 config=zz;sizelength=99", "x", "a=rtpmap:", "m="];
        return pick[Math.floor(rand() * pick.length)];
      }).join("\r\n");
      try {
        const s = parseSdp(text);
        for (const t of s.tracks) expect(() => new TrackReceiver(t, () => undefined, log)).not.toThrow();
      } catch (e) {
        expect((e as Error).message).toContain("more than");
      }
    }
  });
});
