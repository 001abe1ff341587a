/**
 * Our SRTP/SRTCP (lib/protocols/rtc/srtp.ts) against RFC 3711 appendix B's test vectors and against werift's
 * implementation (the reference the viewers used to go through): ours encrypts, werift decrypts, and the other
 * way round, for both DTLS-SRTP profiles, across a sequence number wrap; and byte for byte against packets that
 * pion/srtp (Go) protected.
 */
import { describe, expect, test } from "bun:test";
import { createCipheriv, randomBytes } from "node:crypto";
import { RtpHeader, SrtcpSession, SrtpSession } from "werift";
import {
  LABEL,
  rtpHeaderLength,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpContext,
  srtpKdf,
  srtpKeyLengths,
  type SrtpProfile,
} from "../../../lib/protocols/rtc/srtp.ts";
import { prng } from "../../helpers/prng.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("srtp: RFC 3711 appendix B", () => {
  test("B.3 key derivation: session key, salt and auth key from the master key and salt", () => {
    const mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    const ms = hex("0EC675AD498AFEEBB6960B3AABE6");
    expect(srtpKdf(mk, ms, LABEL.rtpKey, 16).toString("hex")).toBe("c61e7a93744f39ee10734afe3ff7a087");
    expect(srtpKdf(mk, ms, LABEL.rtpSalt, 14).toString("hex")).toBe("30cbbc08863d8c85d49db34a9ae1");
    expect(srtpKdf(mk, ms, LABEL.rtpAuth, 20).toString("hex")).toBe("cebe321f6ff7716b6fd4ab49af256a156d38baa4");
    const ctx = SrtpContext.fromMaster(SRTP_AES128_CM_HMAC_SHA1_80, mk, ms);
    expect(Buffer.from(ctx.keys.rtpKey).toString("hex")).toBe("c61e7a93744f39ee10734afe3ff7a087");
  });

  test("B.2 AES-CM keystream: SSRC 0, ROC 0, SEQ 0 with salt F0..FD encrypts zeros to the listed blocks", () => {
    const key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    const salt = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
    const ctx = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, {
      rtpKey: key, rtpSalt: salt, rtpAuth: Buffer.alloc(20), rtcpKey: key, rtcpSalt: salt, rtcpAuth: Buffer.alloc(20),
    });
    // An RTP packet (V=2, SSRC 0, SEQ 0) whose payload is 0xff02 blocks of zeros: the encrypted payload is the keystream.
    const payloadLen = 0xff02 * 16;
    const buf = new Uint8Array(12 + payloadLen + ctx.rtpOverhead);
    buf[0] = 0x80;
    const n = ctx.protectRtp(buf, 12, 12 + payloadLen, 0);
    expect(n).toBe(12 + payloadLen + 10);
    const block = (i: number) => Buffer.from(buf.subarray(12 + i * 16, 12 + i * 16 + 16)).toString("hex").toUpperCase();
    expect(block(0)).toBe("E03EAD0935C95E80E166B16DD92B4EB4");
    expect(block(1)).toBe("D23513162B02D0F72A43A2FE4A5F97AB");
    expect(block(2)).toBe("41E95B3BB0A2E8DD477901E4FCA894C0");
    expect(block(0xfeff)).toBe("EC8CDF7398607CB0F2D21675EA9EA1E4");
    expect(block(0xff00)).toBe("362B7C3C6773516318A077D7FC5073AE");
    expect(block(0xff01)).toBe("6A2CC3787889374FBEB4C81B17BA6C44");
  });
});

/**
 * Packets protected by pion/srtp v2.0.12 (an independent implementation, Go; generated once, kept as bytes):
 * master key 000102..0f, master salt a0a1.. (14 bytes for AES-CM, 12 for GCM), SSRC cafebabe, PT 96, timestamp
 * 01020304, payload "Gallia est omnis divisa in partes tres"; sequence numbers fffe, ffff (ROC 0) and 0000
 * (ROC 1, marker set); then an SR protected with SRTCP index 1 and 2.
 */
const PION = {
  [SRTP_AES128_CM_HMAC_SHA1_80]: {
    rtp: [
      "8060fffe01020304cafebabee0b9cedf24639858abfc44ae2cfe82a9bb381f43946eeeabf55b1d4afe41ac305415e386b81f81cbf81250edeea8ae97",
      "8060ffff01020304cafebabe46db4f3f6c088f5aa1cdb83dd3c9778361a9de62197d64b5db562cf4b3ba7456636499c4bc6a6f57e8aac2326006afc8",
      "80e0000001020304cafebabe8f63a1e371438a613fa2eddfb5324c31589ca31162a2ada3d7b9b62853f2cfca23a59cbdbaf741ee20b2d59b45dba785",
    ],
    rtcp: [
      "80c80006112233449f45b6f2bf1d0dff83402984aefafbcd04a0790580000001b29976d54678fb010b29",
      "80c800061122334460fcf1f0bfa51a40319e26f5663ec885466b986d8000000256717bb5aeb70db9b201",
    ],
  },
  [SRTP_AEAD_AES_128_GCM]: {
    rtp: [
      "8060fffe01020304cafebabeff0267249f2dcea46a0cbf6f177a8823b592c1e679e67cfb55c3b4ba40784d5da5954704688e38302163135d7d369e704b7d1d3794a2",
      "8060ffff01020304cafebabe385e76c9df09001e761c70585c802f14ece871494dfaeb3493c3cbecfa385aa5d783a060c57b915932005912f9be416290ca6bea9315",
      "80e0000001020304cafebabe53a6aa39d5069ed05140fcef808550902130aabe2434d64ef7dd48e722d1538eb3fa670279e51612928ae27ceaacf95a6054ff8486bf",
    ],
    rtcp: [
      "80c8000611223344b590c81433bd17f3c707db9dc0aa379d221f451c2b2fec06f592c867c51f35ec521eda4380000001",
      "80c8000611223344106dd225b4b5837b1904258799a39ae6d30c23e94a04c769b6c918af82db75c257ca7c9880000002",
    ],
  },
} as const;

describe("srtp: the same bytes as pion/srtp", () => {
  for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM] as const) {
    test(`${profile === SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80"}: RTP across the wrap and SRTCP`, () => {
      const salt = hex("a0a1a2a3a4a5a6a7a8a9aaabacad").subarray(0, srtpKeyLengths(profile).salt);
      const ctx = SrtpContext.fromMaster(profile, hex("000102030405060708090a0b0c0d0e0f"), salt);
      const text = Buffer.from("Gallia est omnis divisa in partes tres");
      [0xfffe, 0xffff, 0x0000].forEach((seq, i) => {
        const buf = new Uint8Array(12 + text.length + ctx.rtpOverhead);
        buf.set(hex(`80${seq === 0 ? "e0" : "60"}${seq.toString(16).padStart(4, "0")}01020304cafebabe`), 0);
        buf.set(text, 12);
        const n = ctx.protectRtp(buf, 12, 12 + text.length, seq === 0 ? 1 : 0);
        expect(Buffer.from(buf.subarray(0, n)).toString("hex")).toBe(PION[profile].rtp[i]!);
        expect(ctx.unprotectRtp(hex(PION[profile].rtp[i]!), seq === 0 ? 1 : 0)?.subarray(12).toString()).toBe(text.toString());
      });
      const sr = hex("80c8000611223344e8a1b2c3d4e5f60100015f900000006400002710");
      [1, 2].forEach((index, i) => {
        expect(ctx.protectRtcp(sr, index).toString("hex")).toBe(PION[profile].rtcp[i]!);
        const back = ctx.unprotectRtcp(hex(PION[profile].rtcp[i]!));
        expect(back?.index).toBe(index);
        expect(back?.rtcp.toString("hex")).toBe(sr.toString("hex"));
      });
    });
  }
});

/** An RTP packet with a one-byte-header extension (mid) like the viewers send, in a buffer with room for the tag. */
function rtpPacket(seq: number, ssrc: number, payload: Uint8Array, room: number): { buf: Uint8Array; headerLength: number; length: number } {
  const ext = [0xbe, 0xde, 0x00, 0x01, 0x10, 0x30, 0x00, 0x00]; // RFC 8285 one-byte header: id 1, "0"
  const h = new Uint8Array(12 + ext.length);
  h[0] = 0x90;
  h[1] = 0x66 | (seq % 7 === 0 ? 0x80 : 0);
  h[2] = seq >> 8;
  h[3] = seq & 0xff;
  h.set([0x00, 0x01, 0xe2, 0x40], 4); // timestamp 123456
  h[8] = ssrc >>> 24;
  h[9] = (ssrc >>> 16) & 0xff;
  h[10] = (ssrc >>> 8) & 0xff;
  h[11] = ssrc & 0xff;
  h.set(ext, 12);
  const buf = new Uint8Array(h.length + payload.length + room);
  buf.set(h, 0);
  buf.set(payload, h.length);
  return { buf, headerLength: h.length, length: h.length + payload.length };
}

function weriftPair(profile: SrtpProfile, mk: Buffer, ms: Buffer) {
  // "local" is the side that encrypts: our sender's peer decrypts with remote keys = our local ones.
  const other = { key: randomBytes(16), salt: randomBytes(srtpKeyLengths(profile).salt) };
  const sender = { keys: { localMasterKey: mk, localMasterSalt: ms, remoteMasterKey: other.key, remoteMasterSalt: other.salt }, profile };
  const receiver = { keys: { localMasterKey: other.key, localMasterSalt: other.salt, remoteMasterKey: mk, remoteMasterSalt: ms }, profile };
  return { sender, receiver };
}

for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM] as const) {
  const name = profile === SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80";
  describe(`srtp ${name} against werift`, () => {
    const { key: kl, salt: sl } = srtpKeyLengths(profile);
    const mk = randomBytes(kl);
    const ms = randomBytes(sl);
    const cfg = weriftPair(profile, mk, ms);

    test("RTP: ours encrypts, werift decrypts (1000 packets across the sequence number wrap, ROC 0 -> 1)", () => {
      const ours = SrtpContext.fromMaster(profile, mk, ms);
      const theirs = new SrtpSession(cfg.receiver);
      const rnd = prng(7);
      const ssrc = 0x12345678;
      for (let i = 0; i < 1000; i++) {
        const seq = (65000 + i) & 0xffff;
        const roc = 65000 + i > 0xffff ? 1 : 0;
        const payload = new Uint8Array(1 + Math.floor(rnd() * 1200)).map(() => Math.floor(rnd() * 256));
        const p = rtpPacket(seq, ssrc, payload, ours.rtpOverhead);
        const plain = Buffer.from(p.buf.subarray(0, p.length));
        const n = ours.protectRtp(p.buf, p.headerLength, p.length, roc);
        expect(n).toBe(p.length + ours.rtpOverhead);
        const dec = theirs.decrypt(Buffer.from(p.buf.subarray(0, n)));
        expect(Buffer.compare(dec, plain)).toBe(0);
      }
    });

    test("RTP: werift encrypts, ours decrypts; a flipped bit fails authentication", () => {
      const ours = SrtpContext.fromMaster(profile, mk, ms);
      const theirs = new SrtpSession(cfg.sender);
      const ssrc = 0xdeadbeef;
      for (let i = 0; i < 300; i++) {
        const seq = (65500 + i) & 0xffff;
        const roc = 65500 + i > 0xffff ? 1 : 0;
        const payload = randomBytes(20 + i);
        const header = new RtpHeader({ sequenceNumber: seq, timestamp: 90000 + i * 3000, payloadType: 102, ssrc, marker: i % 5 === 0 });
        const enc: Buffer = theirs.encrypt(payload, header);
        const dec = ours.unprotectRtp(enc, roc);
        expect(dec).toBeDefined();
        expect(rtpHeaderLength(dec!)).toBe(header.serializeSize);
        expect(Buffer.compare(dec!.subarray(header.serializeSize), payload)).toBe(0);
        const bad = Buffer.from(enc);
        bad[bad.length - 1 - (i % 20)]! ^= 1 << (i % 8);
        expect(ours.unprotectRtp(bad, roc)).toBeUndefined();
        expect(ours.unprotectRtp(enc, roc + 1)).toBeUndefined(); // wrong ROC: wrong tag
      }
    });

    test("RTCP: ours encrypts, werift decrypts, and the other way round", () => {
      const ours = SrtpContext.fromMaster(profile, mk, ms);
      const werift = { rx: new SrtcpSession(cfg.receiver), tx: new SrtcpSession(cfg.sender) };
      // An SR (RFC 3550 6.4.1, no report blocks) + SDES CNAME (6.5).
      const sr = hex("80c80006 11223344 e8a1b2c3 d4e5f601 00015f90 00000064 00002710");
      const sdes = hex("81ca0003 11223344 01046e616d65 0000");
      const compound = Buffer.concat([sr, sdes]);
      for (let index = 0; index < 50; index++) {
        const enc = ours.protectRtcp(compound, index);
        expect(enc.byteLength).toBe(compound.byteLength + ours.rtcpOverhead);
        expect(Buffer.compare(werift.rx.decrypt(enc), compound)).toBe(0);
        const theirs: Buffer = werift.tx.encrypt(compound);
        const back = ours.unprotectRtcp(theirs);
        expect(back).toBeDefined();
        expect(Buffer.compare(back!.rtcp, compound)).toBe(0);
        const bad = Buffer.from(theirs);
        bad[9]! ^= 0x40;
        expect(ours.unprotectRtcp(bad)).toBeUndefined();
      }
    });

    test("garbage never throws: short, random and truncated packets are refused", () => {
      const ours = SrtpContext.fromMaster(profile, mk, ms);
      const rnd = prng(11);
      for (let i = 0; i < 2000; i++) {
        const n = Math.floor(rnd() * 80);
        const p = new Uint8Array(n).map(() => Math.floor(rnd() * 256));
        if (n > 0 && rnd() < 0.5) p[0] = 0x80 | (p[0]! & 0x3f);
        expect(ours.unprotectRtp(p, 0)).toBeUndefined();
        expect(ours.unprotectRtcp(p)).toBeUndefined();
      }
    });
  });
}

test("srtp: a context refuses unknown profiles and wrong key sizes", () => {
  expect(() => SrtpContext.fromMaster(0x0002, randomBytes(16), randomBytes(14))).toThrow(/unsupported/);
  expect(() => SrtpContext.fromMaster(SRTP_AEAD_AES_128_GCM, randomBytes(16), randomBytes(14))).toThrow(/12-byte/);
  expect(() => srtpKdf(randomBytes(15), randomBytes(14), 0, 16)).toThrow(/16 bytes/);
  // The AES-CM PRF is AES-CTR from x * 2^16: the first block equals AES-ECB of that counter block.
  const mk = randomBytes(16);
  const ms = randomBytes(14);
  const x = Buffer.alloc(16);
  x.set(ms);
  x[7]! ^= LABEL.rtcpKey;
  const ecb = createCipheriv("aes-128-ecb", mk, null);
  expect(srtpKdf(mk, ms, LABEL.rtcpKey, 16).toString("hex")).toBe(ecb.update(x).toString("hex"));
});
