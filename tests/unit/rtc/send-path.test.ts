/**
 * The viewers' send path piece by piece: the hub's RTC output (output.ts: SPS/PPS on live keyframes, startup
 * units shared between joins), our RTP sender (rtp-send.ts: header template, sequence numbers and ROC, NACK
 * answers byte-identical to the original, RTX, the retransmission budget, sender reports that werift parses)
 * and the UDP mux's batches (a vanished peer in a batch does not stop the others).
 */
import { describe, expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { RtcpPacketConverter, RtcpSourceDescriptionPacket, RtcpSrPacket, RtpPacket, SrtcpSession, SrtpSession } from "werift";
import { type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { Log, LogSink, silentLog } from "../../../lib/log/logger.ts";
import { STAP_A } from "../../../lib/formats/rtp/h264.ts";
import { rtcOutput, type RtcUnit, type RtcViewerSink } from "../../../lib/protocols/rtc/output.ts";
import { ntpTime, senderReport } from "../../../lib/protocols/rtc/rtcp.ts";
import { type DatagramOut, headerTemplate, RtpStream, ViewerRtpSender } from "../../../lib/protocols/rtc/rtp-send.ts";
import { SRTP_AEAD_AES_128_GCM, SRTP_AES128_CM_HMAC_SHA1_80, SrtpContext, srtpKeyLengths } from "../../../lib/protocols/rtc/srtp.ts";
import { UdpMux } from "../../../lib/protocols/rtc/udp-mux.ts";
import { clipPackets } from "../../helpers/clip-packets.ts";

const PUB: PublisherInfo = { clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };


function newHub(gopCache: boolean): StreamHub {
  return new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "s" }, { gopCache, gopCacheMaxFrames: 2500, timeJitter: "full" }, silentLog(), "vid-test");
}

class Sink implements RtcViewerSink {
  units: RtcUnit[] = [];
  send(u: RtcUnit): void {
    this.units.push(u);
  }
  onPublish(): void {}
  onUnpublish(): void {}
}

describe("rtc output", () => {
  test("without a GOP cache, the first live keyframe a late viewer gets starts with SPS/PPS (STAP-A)", () => {
    const hub = newHub(false);
    hub.startPublish(PUB);
    const pkts = clipPackets();
    const keyAt = pkts.findIndex((p, i) => i > 10 && p.kind === "video" && p.keyframe && !p.config);
    // The sequence header and the first frames go by before anyone plays (the output does not exist yet).
    const secondKey = pkts.findIndex((p, i) => i > keyAt && p.kind === "video" && p.keyframe && !p.config);
    for (const p of pkts.slice(0, secondKey - 1)) hub.publish(p);
    const sink = new Sink();
    const lease = hub.play(rtcOutput({ keepBframe: false, keepSei: true }), sink);
    for (const p of pkts.slice(secondKey - 1, secondKey + 5)) hub.publish(p);
    const key = sink.units.find((u) => u.kind === "video" && u.keyframe);
    expect(key).toBeDefined();
    const first = key!.payloads[0]!.payload;
    expect(first[0]! & 0x1f).toBe(STAP_A);
    expect(first[3]! & 0x1f).toBe(7); // SPS first in the STAP-A (RFC 6184 5.7.1: 2-byte size, then the NAL unit)
    lease.dispose();
  });

  test("viewers joining during the same GOP get the very same startup payloads (packetized once)", () => {
    const hub = newHub(true);
    hub.startPublish(PUB);
    const pkts = clipPackets();
    for (const p of pkts.slice(0, 120)) hub.publish(p);
    const a = new Sink();
    const b = new Sink();
    const spec = rtcOutput({ keepBframe: false, keepSei: true });
    const la = hub.play(spec, a);
    for (const p of pkts.slice(120, 125)) if (!(p.kind === "video" && p.keyframe)) hub.publish(p);
    const lb = hub.play(spec, b);
    expect(a.units.length).toBeGreaterThan(10);
    const startup = b.units.slice(0, b.units.length);
    // b's startup = a's startup (same objects) + the units a got live in between (packetized for b's join)
    for (let i = 0; i < Math.min(startup.length, 10); i++) expect(startup[i]!.payloads[0]!.payload).toBe(a.units[i]!.payloads[0]!.payload);
    la.dispose();
    lb.dispose();
  });
});

/** An out that keeps what it was given (copies: the buffers are reused by a real mux). */
class Capture implements DatagramOut {
  sent: Buffer[] = [];
  buffer(n: number): Uint8Array {
    return new Uint8Array(n);
  }
  send(d: Uint8Array): void {
    this.sent.push(Buffer.from(d));
  }
}

function keys(profile: number) {
  const l = srtpKeyLengths(profile as 1);
  const mk = randomBytes(l.key);
  const ms = randomBytes(l.salt);
  const other = { k: randomBytes(l.key), s: randomBytes(l.salt) };
  const ours = SrtpContext.fromMaster(profile, mk, ms);
  const config = { keys: { localMasterKey: other.k, localMasterSalt: other.s, remoteMasterKey: mk, remoteMasterSalt: ms }, profile };
  return { ours, rtp: new SrtpSession(config), rtcp: new SrtcpSession(config) };
}

describe("rtp sender", () => {
  test("header template: V=2, X with the MID as an RFC 8285 one-byte extension, padded to 32 bits", () => {
    const h = headerTemplate(0x11223344, 102, [{ id: 3, data: new TextEncoder().encode("0") }]);
    expect(Buffer.from(h).toString("hex")).toBe("906600000000000011223344bede0001" + "3030" + "0000");
    expect(Buffer.from(headerTemplate(5, 111)).toString("hex")).toBe("806f000000000000" + "00000005");
    expect(() => headerTemplate(1, 96, [{ id: 15, data: new Uint8Array(1) }])).toThrow(/1\.\.14/);
  });

  for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM]) {
    test(`packets decrypt in werift across the sequence wrap; a NACKed packet comes back byte-identical (${profile === 1 ? "AES-CM" : "GCM"})`, () => {
      const k = keys(profile);
      const out = new Capture();
      const s = new RtpStream({ ssrc: 0xabcdef01, payloadType: 102, clockRate: 90000, extensions: [{ id: 1, data: new Uint8Array([0x30]) }], history: 64, firstSeq: 65530 });
      const payloads = Array.from({ length: 20 }, (_, i) => ({ payload: randomBytes(50 + i * 37), marker: i % 4 === 3 }));
      payloads.forEach((p, i) => s.send(k.ours, out, p, 1000 + Math.floor(i / 4) * 3600));
      expect(out.sent).toHaveLength(20);
      out.sent.forEach((d, i) => {
        const rtp = RtpPacket.deSerialize(k.rtp.decrypt(d));
        expect(rtp.header.sequenceNumber).toBe((65530 + i) & 0xffff);
        expect(rtp.header.ssrc).toBe(0xabcdef01);
        expect(rtp.header.payloadType).toBe(102);
        expect(rtp.header.marker).toBe(payloads[i]!.marker);
        expect(rtp.header.timestamp).toBe(1000 + Math.floor(i / 4) * 3600);
        expect(Buffer.compare(rtp.payload, payloads[i]!.payload)).toBe(0);
      });
      expect(s.packets).toBe(20);
      expect(s.octets).toBe(payloads.reduce((n, p) => n + p.payload.byteLength, 0));
      // NACK for 65533 (before the wrap) and 2 (after): the same bytes as the first time (GCM: no nonce reuse with
      // other data); 1000 is too old / never sent: ignored.
      const before = out.sent.length;
      expect(s.retransmit(k.ours, out, [65533, 2, 1000])).toBe(2);
      expect(out.sent[before]!.equals(out.sent[3]!)).toBe(true);
      expect(out.sent[before + 1]!.equals(out.sent[8]!)).toBe(true);
      expect(s.retransmitted).toBe(2);
    });
  }

  test("RTX (RFC 4588): own SSRC, payload type and sequence numbers, the original sequence number before the payload", () => {
    const k = keys(SRTP_AEAD_AES_128_GCM);
    const out = new Capture();
    const s = new RtpStream({ ssrc: 1, payloadType: 102, clockRate: 90000, history: 16, rtx: { ssrc: 2, payloadType: 103 }, firstSeq: 100 });
    const p = { payload: randomBytes(300), marker: true };
    s.send(k.ours, out, p, 777);
    s.send(k.ours, out, { payload: randomBytes(10), marker: false }, 780);
    expect(s.retransmit(k.ours, out, [100, 100])).toBe(2);
    const a = RtpPacket.deSerialize(k.rtp.decrypt(out.sent[2]!));
    const b = RtpPacket.deSerialize(k.rtp.decrypt(out.sent[3]!));
    expect(a.header.ssrc).toBe(2);
    expect(a.header.payloadType).toBe(103);
    expect(a.header.timestamp).toBe(777);
    expect(a.header.marker).toBe(true);
    expect(a.payload.readUInt16BE(0)).toBe(100);
    expect(Buffer.compare(a.payload.subarray(2), p.payload)).toBe(0);
    expect(b.header.sequenceNumber).toBe((a.header.sequenceNumber + 1) & 0xffff);
  });

  test("retransmissions are bounded: at most one per packet sent, 256 saved", () => {
    const k = keys(SRTP_AEAD_AES_128_GCM);
    const out = new Capture();
    const s = new RtpStream({ ssrc: 1, payloadType: 102, clockRate: 90000, history: 1024, firstSeq: 0 });
    for (let i = 0; i < 10; i++) s.send(k.ours, out, { payload: new Uint8Array(10), marker: false }, 0);
    const all = Array.from({ length: 10 }, (_, i) => i);
    expect(s.retransmit(k.ours, out, [...all, ...all, ...all])).toBe(10);
    expect(s.retransmit(k.ours, out, all)).toBe(0);
    for (let i = 0; i < 600; i++) s.send(k.ours, out, { payload: new Uint8Array(10), marker: false }, 0);
    expect(s.retransmit(k.ours, out, Array.from({ length: 600 }, (_, i) => 10 + i))).toBe(256);
    // no history (audio: no NACK negotiated): nothing
    const audio = new RtpStream({ ssrc: 9, payloadType: 111, clockRate: 48000 });
    audio.send(k.ours, out, { payload: new Uint8Array(10), marker: false }, 0);
    expect(audio.retransmit(k.ours, out, [audio.nextSeq - 1])).toBe(0);
  });

  test("sender reports: werift parses SR + SDES CNAME; both tracks map the same presentation time to the same wallclock", () => {
    const k = keys(SRTP_AES128_CM_HMAC_SHA1_80);
    const out = new Capture();
    const video = new RtpStream({ ssrc: 11, payloadType: 102, clockRate: 90000 });
    const audio = new RtpStream({ ssrc: 22, payloadType: 111, clockRate: 48000 });
    const v = new ViewerRtpSender(k.ours, out, "cname-x", video, audio);
    const now = 1_700_000_000_000;
    v.send(video, [{ payload: new Uint8Array(100), marker: true }], Math.round(5000 * 90) >>> 0, 5000, now);
    v.send(audio, [{ payload: new Uint8Array(80), marker: false }], Math.round(5000 * 48) >>> 0, 5000, now + 5);
    out.sent.length = 0;
    v.reports(now + 1000);
    expect(out.sent).toHaveLength(2);
    const srs = out.sent.map((d) => RtcpPacketConverter.deSerialize(k.rtcp.decrypt(d)));
    const [vsr, vsdes] = srs[0]! as [RtcpSrPacket, RtcpSourceDescriptionPacket];
    const [asr] = srs[1]! as [RtcpSrPacket];
    expect(vsr.ssrc).toBe(11);
    expect(asr.ssrc).toBe(22);
    expect(vsdes.chunks[0]!.items[0]!.text).toBe("cname-x");
    expect(vsr.senderInfo.packetCount).toBe(1);
    expect(vsr.senderInfo.octetCount).toBe(100);
    // 1 s after pts 5000 was "now": pts 6000 in each clock
    expect(vsr.senderInfo.rtpTimestamp).toBe(6000 * 90);
    expect(asr.senderInfo.rtpTimestamp).toBe(6000 * 48);
    const [msw, lsw] = ntpTime(now + 1000);
    expect(vsr.senderInfo.ntpTimestamp).toBe((BigInt(msw) << 32n) | BigInt(lsw));
    // a receiver report echoing the SR gives the RTT (RFC 3550 6.4.1): 30 ms after, with DLSR 10 ms
    const lsr = (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0;
    v.receiverReport(11, lsr, Math.round(0.01 * 65536), now + 1030);
    expect(v.rttMs).toBeGreaterThanOrEqual(19);
    expect(v.rttMs).toBeLessThanOrEqual(21);
  });

  test("SR bytes (RFC 3550 6.4.1, 6.5): lengths in 32-bit words minus one, CNAME chunk null-terminated and padded", () => {
    const d = senderReport({ ssrc: 0x01020304, unixMs: 0, rtpTimestamp: 9, packets: 2, octets: 3 }, "abc");
    expect(d.byteLength).toBe(28 + 4 + 12);
    expect(d[1]).toBe(200);
    expect((d[2]! << 8) | d[3]!).toBe(6);
    expect(d[29]).toBe(202);
    expect((d[30]! << 8) | d[31]!).toBe(3);
    expect(Buffer.from(d.subarray(36)).toString("hex")).toBe("0103616263000000");
  });
});

describe("udp mux batches", () => {
  async function bound(): Promise<Socket> {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    return s;
  }

  test("a datagram to a closed port (ICMP unreachable) does not stop the rest of the batch", async () => {
    const mux = new UdpMux(new Log(new LogSink({ tank: "console", level: "error" }), "test"));
    await mux.listen(0, "127.0.0.1");
    const rx = await bound();
    const got: string[] = [];
    rx.on("message", (m) => got.push(m.toString()));
    const gone = await bound();
    const gonePort = gone.address().port;
    await new Promise<void>((r) => gone.close(() => r()));
    const live = mux.target("127.0.0.1", rx.address().port)!;
    const dead = mux.target("127.0.0.1", gonePort)!;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 4; i++) {
        for (const t of [dead, live]) {
          const b = mux.buffer(t, 8);
          b.set(new TextEncoder().encode(`r${round}p${i}`.padEnd(8, ".")));
          mux.sendBuilt(t, b);
        }
      }
      await Bun.sleep(20); // the microtask flush ran
    }
    await Bun.sleep(100);
    expect(got).toHaveLength(20);
    expect(got[0]).toBe("r0p0....");
    expect(got[19]).toBe("r4p3....");
    expect(mux.stats.sent).toBe(40);
    rx.close();
    await mux.close();
  });
});
