/**
 * RTSP 1.0 message reader/writer (lib/protocols/rtsp/message.ts): requests and responses as FFmpeg and GStreamer
 * send them, interleaved frames mixed in, every split of the byte stream, the limits, and a seeded fuzz run that
 * must never throw anything but RtspError nor hold more than the limits.
 */
import { describe, expect, test } from "bun:test";
import {
  DEFAULT_RTSP_LIMITS,
  interleavedFrame,
  RtspError,
  RtspHeaders,
  type RtspItem,
  RtspReader,
  serializeRequest,
  serializeResponse,
} from "../../../lib/protocols/rtsp/message.ts";
import { formatTransport, parseTransport } from "../../../lib/protocols/rtsp/transport.ts";
import { prng } from "../../helpers/prng.ts";

const enc = new TextEncoder();
const FFMPEG_SETUP = "SETUP rtsp://127.0.0.1:8554/live/s/streamid=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n" +
  "CSeq: 3\r\nUser-Agent: Lavf60.16.100\r\nSession: 8b3c1a\r\n\r\n";
const SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
const ANNOUNCE = `ANNOUNCE rtsp://127.0.0.1:8554/live/s RTSP/1.0\r\nContent-Type: application/sdp\r\nCSeq: 2\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;

function readAll(bytes: Uint8Array, split: number[] = []): RtspItem[] {
  const items: RtspItem[] = [];
  const r = new RtspReader((i) => items.push(i.type === "frame" ? { ...i, data: i.data.slice() } : i));
  let o = 0;
  for (const s of [...split, bytes.length]) {
    r.feed(bytes.subarray(o, s));
    o = s;
  }
  return items;
}

describe("RtspReader", () => {
  test("a request with headers, a request with a body, and an interleaved frame between them", () => {
    const frame = interleavedFrame(2, Uint8Array.of(0x80, 0x60, 1, 2, 3));
    const all = new Uint8Array([...enc.encode(FFMPEG_SETUP), ...frame, ...enc.encode(ANNOUNCE)]);
    const items = readAll(all);
    expect(items.map((i) => i.type)).toEqual(["request", "frame", "request"]);
    const setup = items[0]!;
    if (setup.type !== "request") throw new Error("not a request");
    expect(setup.method).toBe("SETUP");
    expect(setup.uri).toBe("rtsp://127.0.0.1:8554/live/s/streamid=0");
    expect(setup.cseq).toBe(3);
    expect(setup.headers.get("transport")).toBe("RTP/AVP/TCP;unicast;interleaved=0-1;mode=record");
    const f = items[1]!;
    expect(f).toEqual({ type: "frame", channel: 2, data: Uint8Array.of(0x80, 0x60, 1, 2, 3) });
    const ann = items[2]!;
    if (ann.type !== "request") throw new Error("not a request");
    expect(new TextDecoder().decode(ann.body)).toBe(SDP);
  });

  test("every split of the stream gives the same items", () => {
    const all = new Uint8Array([...enc.encode(ANNOUNCE), ...interleavedFrame(0, new Uint8Array(300).fill(7)), ...enc.encode(FFMPEG_SETUP)]);
    const want = readAll(all);
    for (let s = 1; s < all.length; s += 7) expect(readAll(all, [s])).toEqual(want);
    // byte by byte
    expect(readAll(all, Array.from({ length: all.length - 1 }, (_, i) => i + 1))).toEqual(want);
  });

  test("responses (as a client reads them), folded headers, keep-alive CRLFs", () => {
    const items = readAll(enc.encode("\r\nRTSP/1.0 200 OK\r\nCSeq: 7\r\nPublic: OPTIONS,\r\n DESCRIBE\r\n\r\n"));
    expect(items).toHaveLength(1);
    const r = items[0]!;
    if (r.type !== "response") throw new Error("not a response");
    expect(r.status).toBe(200);
    expect(r.cseq).toBe(7);
    expect(r.headers.get("public")).toBe("OPTIONS, DESCRIBE");
  });

  test("refusals: no CSeq, a bad CSeq, RTSP/2.0, too many header bytes, a body over the limit, garbage", () => {
    const bad = (s: string | Uint8Array, status = 400): void => {
      const r = new RtspReader(() => undefined);
      let err: unknown;
      try {
        r.feed(typeof s === "string" ? enc.encode(s) : s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RtspError);
      expect((err as RtspError).status).toBe(status);
      // a failed reader stays failed
      expect(() => r.feed(enc.encode("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))).toThrow(RtspError);
    };
    bad("OPTIONS * RTSP/1.0\r\n\r\n");
    bad("OPTIONS * RTSP/1.0\r\nCSeq: x1\r\n\r\n");
    bad("OPTIONS * RTSP/1.0\r\nCSeq: 99999999999\r\n\r\n");
    bad("OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505);
    bad(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: ${"a".repeat(DEFAULT_RTSP_LIMITS.maxHeaderBytes)}\r\n\r\n`);
    bad(`ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${DEFAULT_RTSP_LIMITS.maxBodyBytes + 1}\r\n\r\n`, 413);
    bad("ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n");
    bad(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xa5)); // a TLS ClientHello
    bad("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    bad(`OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n${"X: y\r\n".repeat(DEFAULT_RTSP_LIMITS.maxHeaders + 1)}\r\n`);
  });

  test("pending bytes stay within the limits whatever a peer declares", () => {
    const r = new RtspReader(() => undefined);
    r.feed(enc.encode(`ANNOUNCE rtsp://h/a/b RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ${DEFAULT_RTSP_LIMITS.maxBodyBytes}\r\n\r\n`));
    r.feed(new Uint8Array(1000));
    expect(r.pending).toBeLessThan(DEFAULT_RTSP_LIMITS.maxHeaderBytes + DEFAULT_RTSP_LIMITS.maxBodyBytes);
    const r2 = new RtspReader(() => undefined);
    r2.feed(Uint8Array.of(0x24, 1, 0xff, 0xff)); // a frame header announcing 65535 bytes
    r2.feed(new Uint8Array(60000));
    expect(r2.pending).toBe(60004);
  });

  test("seeded fuzz: mutated and random streams never throw anything but RtspError", () => {
    const rand = prng(20261205);
    const corpus = [enc.encode(FFMPEG_SETUP), enc.encode(ANNOUNCE), interleavedFrame(1, new Uint8Array(40)), enc.encode("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm=\"x\", nonce=\"y\"\r\n\r\n")];
    let items = 0;
    let errors = 0;
    for (let run = 0; run < 3000; run++) {
      const parts: number[] = [];
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) parts.push(...corpus[Math.floor(rand() * corpus.length)]!);
      const b = Uint8Array.from(parts);
      const flips = Math.floor(rand() * 6);
      for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      if (rand() < 0.1) for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
      const r = new RtspReader(() => items++);
      try {
        let o = 0;
        while (o < b.length) {
          const step = 1 + Math.floor(rand() * 64);
          r.feed(b.subarray(o, o + step));
          o += step;
          expect(r.pending).toBeLessThanOrEqual(DEFAULT_RTSP_LIMITS.maxHeaderBytes + DEFAULT_RTSP_LIMITS.maxBodyBytes + 4 + 0xffff);
        }
      } catch (e) {
        if (!(e instanceof RtspError)) throw e;
        errors++;
      }
    }
    expect(items).toBeGreaterThan(1000);
    expect(errors).toBeGreaterThan(100);
  });
});

describe("serializing", () => {
  test("a response reads back (CSeq first, Content-Length from the body)", () => {
    const b = serializeResponse(200, 4, new RtspHeaders().add("Content-Type", "application/sdp").add("Content-Length", "999"), SDP);
    const text = new TextDecoder().decode(b);
    expect(text.startsWith("RTSP/1.0 200 OK\r\nCSeq: 4\r\n")).toBe(true);
    const [r] = readAll(b);
    if (r?.type !== "response") throw new Error("not a response");
    expect(r.headers.get("Content-Length")).toBe(String(SDP.length));
    expect(new TextDecoder().decode(r.body)).toBe(SDP);
  });

  test("a request reads back; line breaks in headers are refused", () => {
    const b = serializeRequest("DESCRIBE", "rtsp://h/live/s", 9, new RtspHeaders().add("Accept", "application/sdp"));
    const [r] = readAll(b);
    expect(r).toMatchObject({ type: "request", method: "DESCRIBE", uri: "rtsp://h/live/s", cseq: 9 });
    expect(() => new RtspHeaders().add("X", "a\r\nInjected: 1")).toThrow(RtspError);
  });
});

describe("Transport (RFC 2326 12.39)", () => {
  test("TCP interleaved, UDP client ports, record mode, the first supported of several", () => {
    expect(parseTransport("RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")).toEqual({ protocol: "tcp", interleaved: [0, 1], record: true });
    expect(parseTransport("RTP/AVP;unicast;client_port=5000-5001")).toEqual({ protocol: "udp", clientPort: [5000, 5001], record: false });
    expect(parseTransport("RTP/AVP;multicast;port=5000-5001,RTP/AVP/TCP;unicast;interleaved=2-3")).toEqual({ protocol: "tcp", interleaved: [2, 3], record: false });
    expect(parseTransport("RTP/SAVP;unicast;client_port=1-2")).toBeUndefined();
    expect(parseTransport("RTP/AVP;unicast")).toBeUndefined(); // UDP without ports
    expect(parseTransport("RTP/AVP/TCP;interleaved=300-301")).toBeUndefined();
    expect(formatTransport({ protocol: "udp", clientPort: [5000, 5001], serverPort: [6000, 6001], ssrc: 0xab, record: false }))
      .toBe("RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=000000AB");
  });
});
