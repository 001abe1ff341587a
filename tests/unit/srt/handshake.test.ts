import { describe, expect, test } from "bun:test";
import { createKm, encodeKm } from "../../../lib/protocols/srt/crypto.ts";
import {
  CookieJar, decodeHandshake, decodeHsReq, decodeSid, encodeHandshake, encodeHsReq, encodeSid, EXT_HSREQ, EXT_HSRSP,
  EXT_KMREQ, EXT_KMRSP, EXT_SID, type Handshake, HS_CONCLUSION, negotiateConclusion, REJ_BADSECRET, REJ_ROGUE,
  REJ_UNSECURE, REJ_VERSION, SRT_OPT_TLPKTDROP, SRT_OPT_TSBPDRCV, SRT_OPT_TSBPDSND,
} from "../../../lib/protocols/srt/handshake.ts";

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));

// A CONCLUSION sent by srt-live-transmit 1.5.1 (libsrt) for streamid=hello/x, captured on loopback.
const LIBSRT_CONCLUSION = hex(
  "000000050000000507f48c43000005dc00002000ffffffff038ce06c43aeabb60100007f00000000000000000000000000010003" +
    "00010501000000bf00780000000500026c6c656800782f6f",
);

describe("handshake CIF", () => {
  test("decodes a real libsrt CONCLUSION: HSREQ and the word-reversed stream id", () => {
    const hs = decodeHandshake(LIBSRT_CONCLUSION);
    expect(hs.version).toBe(5);
    expect(hs.type).toBe(HS_CONCLUSION);
    expect(hs.extension).toBe(5);
    const req = decodeHsReq(hs.extensions.find((e) => e.type === EXT_HSREQ)!.data);
    expect(req.version).toBe(0x010501);
    expect(req.recvDelayMs).toBe(120);
    expect(req.sendDelayMs).toBe(0);
    expect(decodeSid(hs.extensions.find((e) => e.type === EXT_SID)!.data)).toBe("hello/x");
  });

  test("stream id encoding matches libsrt and round-trips UTF-8", () => {
    expect(Buffer.from(encodeSid("hello/x")).toString("hex")).toBe("6c6c656800782f6f");
    for (const s of ["#!::r=live/s,m=publish", "é€😀", "abcd", ""]) expect(decodeSid(encodeSid(s))).toBe(s);
    expect(() => encodeSid("x".repeat(513))).toThrow();
  });

  test("encode/decode round trip with extensions; overrunning extension is rejected", () => {
    const hs: Handshake = {
      version: 5, encryption: 0, extension: 1, isn: 123, mtu: 1500, flowWindow: 8192, type: HS_CONCLUSION, socketId: 9,
      cookie: 0xdeadbeef, peerIp: new Uint8Array(16), extensions: [{ type: EXT_HSREQ, data: encodeHsReq({ version: 1, flags: 3, recvDelayMs: 200, sendDelayMs: 80 }) }],
    };
    const b = encodeHandshake(hs);
    const d = decodeHandshake(b);
    expect(d.cookie).toBe(0xdeadbeef);
    expect(decodeHsReq(d.extensions[0]!.data)).toEqual({ version: 1, flags: 3, recvDelayMs: 200, sendDelayMs: 80 });
    b[50] = 0; b[51] = 99; // extension length way past the end
    expect(() => decodeHandshake(b)).toThrow();
  });
});

function conclusion(exts: Handshake["extensions"], version = 5): Handshake {
  return {
    version, encryption: 0, extension: 5, isn: 1, mtu: 1500, flowWindow: 8192, type: HS_CONCLUSION, socketId: 7, cookie: 1,
    peerIp: new Uint8Array(16), extensions: exts,
  };
}
const hsreq = (recv: number, send: number, flags = SRT_OPT_TSBPDSND | SRT_OPT_TSBPDRCV | SRT_OPT_TLPKTDROP | 0x30) => ({
  type: EXT_HSREQ, data: encodeHsReq({ version: 0x010501, flags, recvDelayMs: recv, sendDelayMs: send }),
});
const cfg = { latency: 120, tlpktdrop: true, tsbpd: true, pbkeylen: 0, mtu: 1500, flowWindow: 8192 };

describe("listener negotiation", () => {
  test("latency = max of both sides, per direction", () => {
    const r = negotiateConclusion(conclusion([hsreq(300, 50), { type: EXT_SID, data: encodeSid("live/x") }]), { ...cfg, recvLatency: 200, peerLatency: 100 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.rcvLatencyMs).toBe(200); // ours 200 vs peer's proposal 50
    expect(r.value.sndLatencyMs).toBe(300); // peer wants 300 for what it receives
    expect(r.value.streamId).toBe("live/x");
    const rsp = decodeHsReq(r.value.responseExtensions.find((e) => e.type === EXT_HSRSP)!.data);
    expect(rsp.recvDelayMs).toBe(200);
    expect(rsp.sendDelayMs).toBe(300);
    expect(rsp.flags & SRT_OPT_TLPKTDROP).toBeTruthy();
  });

  test("rejections: version, missing HSREQ, encryption mismatches, wrong passphrase", () => {
    expect(negotiateConclusion(conclusion([hsreq(120, 120)], 4), cfg)).toMatchObject({ ok: false, code: REJ_VERSION });
    expect(negotiateConclusion(conclusion([]), cfg)).toMatchObject({ ok: false, code: REJ_ROGUE });
    const km = { type: EXT_KMREQ, data: encodeKm(createKm("the-passphrase", 16).km) };
    expect(negotiateConclusion(conclusion([hsreq(120, 120), km]), cfg)).toMatchObject({ ok: false, code: REJ_UNSECURE });
    expect(negotiateConclusion(conclusion([hsreq(120, 120)]), { ...cfg, passphrase: "the-passphrase" })).toMatchObject({ ok: false, code: REJ_UNSECURE });
    expect(negotiateConclusion(conclusion([hsreq(120, 120), km]), { ...cfg, passphrase: "not-the-passphrase" })).toMatchObject({ ok: false, code: REJ_BADSECRET });
    expect(negotiateConclusion(conclusion([hsreq(120, 120), km]), { ...cfg, passphrase: "the-passphrase", pbkeylen: 32 })).toMatchObject({ ok: false, code: REJ_BADSECRET });
    const ok = negotiateConclusion(conclusion([hsreq(120, 120), km]), { ...cfg, passphrase: "the-passphrase" });
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(ok.value.crypto?.klen).toBe(16);
      expect(ok.value.responseExtensions.find((e) => e.type === EXT_KMRSP)!.data).toEqual(km.data);
    }
  });
});

describe("SYN cookie", () => {
  test("bound to address, port and minute; previous minute accepted", () => {
    let t = 10 * 60000 + 5;
    const jar = new CookieJar(() => t);
    const c = jar.make("127.0.0.1", 5000);
    expect(jar.check("127.0.0.1", 5000, c)).toBe(true);
    expect(jar.check("127.0.0.1", 5001, c)).toBe(false);
    expect(jar.check("127.0.0.2", 5000, c)).toBe(false);
    t += 60000;
    expect(jar.check("127.0.0.1", 5000, c)).toBe(true);
    t += 60000;
    expect(jar.check("127.0.0.1", 5000, c)).toBe(false);
  });
});
