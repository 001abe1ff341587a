/** H.264 RTP packetizer/depacketizer (RFC 6184), the reorder buffer, STUN parsing and the UDP port mux. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { demuxFlv, FLV_TAG_VIDEO } from "../../../lib/formats/flv.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { joinAvcc, parseAvcConfig, splitAvcc } from "../../../lib/media/avc.ts";
import { flvVideoToPacket } from "../../../lib/media/flv-codec.ts";
import { FU_A, H264Depacketizer, packetizeH264, STAP_A } from "../../../lib/formats/rtp/h264.ts";
import { ReorderBuffer, RtpTimestampUnwrapper, seqDiff } from "../../../lib/protocols/rtc/reorder.ts";
import { candidateAddresses, prepareOffer, SdpError } from "../../../lib/protocols/rtc/sdp.ts";
import { parseStun, stunUsername, verifyIntegrity } from "../../../lib/protocols/rtc/stun.ts";
import { type MuxEndpoint, UdpMux } from "../../../lib/protocols/rtc/udp-mux.ts";
import { clip } from "../../helpers/media.ts";
import { stunRequest } from "../../helpers/stun.ts";

const log = new Log(new LogSink({ tank: "console", level: "error" }), "test");

describe("h264 rtp", () => {
  test("clip.flv frames round-trip: packetize -> depacketize gives identical AVCC", () => {
    const { tags } = demuxFlv(new Uint8Array(readFileSync(clip("clip.flv"))));
    let params: Uint8Array[] = [];
    const dep = new H264Depacketizer();
    let seq = 65500; // crosses the 16-bit wrap
    let frames = 0;
    let fuSeen = false;
    for (const t of tags) {
      if (t.type !== FLV_TAG_VIDEO) continue;
      const p = flvVideoToPacket(t.data, t.timestamp);
      if (!p) continue;
      if (p.config) {
        const c = parseAvcConfig(p.data);
        params = [...c.sps, ...c.pps];
        continue;
      }
      const nalus = splitAvcc(p.data);
      const payloads = packetizeH264(nalus, p.keyframe ? params : undefined);
      for (const x of payloads) expect(x.payload.byteLength).toBeLessThanOrEqual(1200);
      expect(payloads.filter((x) => x.marker)).toHaveLength(1);
      expect(payloads[payloads.length - 1]!.marker).toBe(true);
      if (p.keyframe) expect(payloads[0]!.payload[0]! & 0x1f).toBe(STAP_A);
      if (payloads.some((x) => (x.payload[0]! & 0x1f) === FU_A)) fuSeen = true;
      const ts = (p.pts * 90) >>> 0;
      const out = payloads.flatMap((x) => {
        const r = dep.push(x.payload, seq, ts, x.marker);
        seq = (seq + 1) & 0xffff;
        return r;
      });
      expect(out).toHaveLength(1);
      const f = out[0]!;
      expect(f.broken).toBe(false);
      expect(f.keyframe).toBe(p.keyframe);
      const got = f.nalus.filter((n) => ![7, 8, 9].includes(n[0]! & 0x1f));
      const want = nalus.filter((n) => ![7, 8, 9].includes(n[0]! & 0x1f));
      expect(Buffer.from(joinAvcc(got)).equals(Buffer.from(joinAvcc(want)))).toBe(true);
      if (p.keyframe) expect(f.nalus.slice(0, 2).map((n) => n[0]! & 0x1f)).toEqual([7, 8]);
      frames++;
    }
    expect(frames).toBe(250);
    expect(fuSeen).toBe(true);
  });

  test("a lost FU-A fragment marks the frame broken; a lost marker packet ends the frame at the next timestamp", () => {
    const big = new Uint8Array(3000).map((_, i) => (i === 0 ? 0x65 : i & 0xff));
    const payloads = packetizeH264([big], undefined);
    expect(payloads.length).toBe(3);
    const dep = new H264Depacketizer();
    expect(dep.push(payloads[0]!.payload, 1, 100, false)).toHaveLength(0);
    const out = dep.push(payloads[2]!.payload, 3, 100, true); // seq 2 lost
    expect(out).toHaveLength(1);
    expect(out[0]!.broken).toBe(true);
    const d2 = new H264Depacketizer();
    d2.push(Uint8Array.of(0x41, 1, 2), 10, 1000, false);
    const r = d2.push(Uint8Array.of(0x41, 3, 4), 12, 4000, true);
    expect(r).toHaveLength(2);
    expect(r[0]!.broken).toBe(true);
    expect(r[1]!.broken).toBe(true); // seq 11 lost
  });
});

describe("reorder buffer", () => {
  test("orders, waits for holes, gives up after maxDelay, handles wrap", () => {
    const b = new ReorderBuffer<number>({ maxDelayMs: 100, maxPackets: 10 });
    expect(b.push(65534, 1, 0)).toEqual([1]);
    expect(b.push(0, 3, 0)).toEqual([]);
    expect(b.push(65535, 2, 5)).toEqual([2, 3]);
    expect(b.push(2, 5, 10)).toEqual([]);
    expect(b.tick(50)).toEqual([]);
    expect(b.tick(111)).toEqual([5]);
    expect(b.lost).toBe(1);
    expect(b.push(1, 4, 120)).toEqual([]); // too late
    expect(b.late).toBe(1);
    expect(seqDiff(1, 65535)).toBe(2);
  });

  test("RTP timestamps unwrap", () => {
    const u = new RtpTimestampUnwrapper();
    expect(u.unwrap(0xfffff000)).toBe(0xfffff000);
    expect(u.unwrap(0x1000)).toBe(0x100001000);
    expect(u.unwrap(0xffffff00)).toBe(0xffffff00); // slightly older
  });
});


describe("stun + mux", () => {
  test("USERNAME and MESSAGE-INTEGRITY", () => {
    const d = stunRequest("abcd:WXYZ", "secret");
    const m = parseStun(d)!;
    expect(stunUsername(m)).toEqual({ local: "abcd", remote: "WXYZ" });
    expect(verifyIntegrity(d, m, "secret")).toBe(true);
    expect(verifyIntegrity(d, m, "other")).toBe(false);
    expect(parseStun(Buffer.from("hello world, not stun"))).toBeUndefined();
  });

  test("routes by ufrag then by bound address; drops unknown ufrag, bad integrity and unbound addresses", () => {
    const mux = new UdpMux(log);
    const got: string[] = [];
    const ep = (ufrag: string): MuxEndpoint => ({
      ufrag, password: `pw-${ufrag}`, receive: (d, ip, port, stun) => got.push(`${ufrag} ${ip}:${port} ${stun ? "stun" : d[0]}`),
    });
    const a = ep("aaaa");
    const b = ep("bbbb");
    mux.register(a);
    mux.register(b);
    const dtls = Buffer.from([22, 254, 253, 0]);
    mux.onMessage(dtls, { address: "10.0.0.1", port: 5000 }); // unbound
    mux.onMessage(stunRequest("zzzz:x", "pw"), { address: "10.0.0.1", port: 5000 }); // unknown ufrag
    mux.onMessage(stunRequest("aaaa:x", "wrong"), { address: "10.0.0.1", port: 5000 }); // bad integrity
    expect(got).toEqual([]);
    expect(mux.stats).toMatchObject({ unknownAddress: 1, unknownUfrag: 1, badStun: 1 });
    mux.onMessage(stunRequest("aaaa:x", "pw-aaaa"), { address: "10.0.0.1", port: 5000 });
    mux.onMessage(stunRequest("bbbb:y", "pw-bbbb"), { address: "::ffff:10.0.0.2", port: 6000 });
    mux.onMessage(dtls, { address: "10.0.0.1", port: 5000 });
    mux.onMessage(Buffer.from([0x80, 96, 0, 1]), { address: "10.0.0.2", port: 6000 });
    expect(got).toEqual(["aaaa 10.0.0.1:5000 stun", "bbbb 10.0.0.2:6000 stun", "aaaa 10.0.0.1:5000 22", "bbbb 10.0.0.2:6000 128"]);
    expect(mux.endpointAt("10.0.0.1", 5000)).toBe(a);
    mux.unregister(a);
    expect(mux.endpointAt("10.0.0.1", 5000)).toBeUndefined();
    expect(() => mux.register(b)).toThrow();
  });
});

describe("sdp", () => {
  const offer = (video: string[]) => [
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0",
    `m=video 9 UDP/TLS/RTP/SAVPF ${video.map((v) => v.split(" ")[0]).join(" ")}`, "a=ice-ufrag:abcd", "a=ice-pwd:x",
    "a=fingerprint:sha-256 00", "a=mid:0", "a=recvonly",
    ...video.flatMap((v) => {
      const [pt, name, fmtp] = v.split(" ");
      return [`a=rtpmap:${pt} ${name}/90000`, ...(fmtp ? [`a=fmtp:${pt} ${fmtp}`] : []), `a=rtcp-fb:${pt} nack`];
    }),
  ].join("\r\n");

  test("keeps one H.264 (packetization-mode 1, constrained baseline first) and its RTX", () => {
    const o = prepareOffer(offer([
      "96 VP8", "97 rtx apt=96", "102 H264 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
      "104 H264 packetization-mode=1;profile-level-id=640c1f", "106 H264 packetization-mode=1;profile-level-id=42e01f",
      "107 rtx apt=106",
    ]));
    expect(o.video!.pt).toBe(106);
    expect(o.sdp).toContain("m=video 9 UDP/TLS/RTP/SAVPF 106 107\r\n");
    expect(o.sdp).not.toContain("VP8");
    expect(o.iceUfrag).toBe("abcd");
    expect(o.directions).toEqual(["recvonly"]);
  });

  test("refuses garbage and codecs we cannot carry", () => {
    expect(() => prepareOffer("garbage")).toThrow(SdpError);
    expect(() => prepareOffer(offer(["96 VP8"]))).toThrow(/H\.264/);
  });

  test("candidates: fixed, eip with port, api host", () => {
    const base = { port: 8000, apiAsCandidates: true };
    expect(candidateAddresses({ ...base, candidate: "1.2.3.4" })).toEqual([{ ip: "1.2.3.4", port: 8000 }]);
    expect(candidateAddresses({ ...base, candidate: "1.2.3.4", eip: "5.6.7.8:9000" })).toEqual([{ ip: "5.6.7.8", port: 9000 }]);
    expect(candidateAddresses({ ...base, candidate: "1.2.3.4", apiHost: "127.0.0.1" }).map((c) => c.ip)).toEqual(["1.2.3.4", "127.0.0.1"]);
    expect(candidateAddresses({ ...base, candidate: "*" }).length).toBeGreaterThan(0);
  });
});
