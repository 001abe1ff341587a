/**
 * A viewer's outgoing media once DTLS is up: RTP (RFC 3550) built from a per-stream header template, protected
 * with our SRTP (srtp.ts) in place in the UDP mux's batch arena, and sent in batches (udp-mux.ts). werift keeps
 * ICE, DTLS and the incoming RTCP; this replaces its per-packet sender (header objects, extension maps, a copy
 * per step, an async chain and a cache of 128 packets per stream).
 *
 * Per stream (one SSRC): the 12-byte header and the RFC 8285 one-byte-header extensions that never change (the
 * MID) are written once in `template`; per packet only the marker/payload type byte, the sequence number and the
 * timestamp are patched. No per-packet extension (no abs-send-time, no transport-cc): we do no sender-side
 * bandwidth estimation, so nothing would read their feedback. The payload bytes are the hub's, shared by every
 * viewer of the stream (output.ts packetizes once).
 *
 * Retransmission (RFC 4585 6.2.1 generic NACK): the last `history` packets of a stream are remembered as
 * references to the shared payloads plus their timestamps (a few KB per viewer). A NACKed packet goes again
 * either as RTX (RFC 4588 4: its own SSRC, payload type and sequence numbers, the original sequence number in
 * front of the payload) when negotiated, or as the very same packet: same header, same bytes, hence the same
 * SRTP output (with GCM a different packet under the same sequence number would reuse the nonce, RFC 7714 13.1).
 * Retransmissions are bounded: one token per packet sent, at most 256 saved, one token per retransmission.
 *
 * Sender reports (RFC 3550 6.4.1): every stream maps its RTP timestamps to the wallclock through one anchor per
 * viewer (wallclock - presentation time, both tracks alike), so audio and video stay in sync in the player.
 */
import type { RtpPayload } from "../../formats/rtp/h264.ts";
import { ntpTime, senderReport } from "./rtcp.ts";
import type { SrtpContext } from "./srtp.ts";

/** Where built datagrams go (the session's nominated address on the shared port). */
export interface DatagramOut {
  /** A buffer of `n` bytes to build one datagram in (undefined: nowhere to send now). */
  buffer(n: number): Uint8Array | undefined;
  /** Sends the datagram built in the last buffer(). */
  send(d: Uint8Array): void;
}

export interface RtpStreamParams {
  ssrc: number;
  payloadType: number;
  /** Clock rate of the RTP timestamps (90000 video, 48000 Opus). */
  clockRate: number;
  /** RFC 8285 one-byte-header extensions written on every packet (ids 1-14, 1-16 bytes each), e.g. the MID. */
  extensions?: { id: number; data: Uint8Array }[];
  /** Packets kept for NACK (a power of two; 0: none, no NACK negotiated). */
  history?: number;
  /** RTX (RFC 4588) for retransmissions, when negotiated. */
  rtx?: { ssrc: number; payloadType: number };
  /** The first sequence number (default: random, RFC 3550 5.1). */
  firstSeq?: number;
}

/** The fixed part of every packet of an SSRC: RTP header (RFC 3550 5.1) + one-byte-header extensions (RFC 8285 4.2). */
export function headerTemplate(ssrc: number, payloadType: number, extensions: { id: number; data: Uint8Array }[] = []): Uint8Array {
  let extLen = 0;
  for (const e of extensions) {
    if (e.id < 1 || e.id > 14) throw new Error(`one-byte header extension id ${e.id} out of 1..14`);
    if (e.data.byteLength < 1 || e.data.byteLength > 16) throw new Error(`one-byte header extension ${e.id}: ${e.data.byteLength} bytes (1..16)`);
    extLen += 1 + e.data.byteLength;
  }
  const words = (extLen + 3) >> 2;
  const h = new Uint8Array(12 + (extensions.length ? 4 + words * 4 : 0));
  h[0] = 0x80 | (extensions.length ? 0x10 : 0); // V=2, X
  h[1] = payloadType & 0x7f;
  h[8] = ssrc >>> 24;
  h[9] = (ssrc >>> 16) & 0xff;
  h[10] = (ssrc >>> 8) & 0xff;
  h[11] = ssrc & 0xff;
  if (extensions.length) {
    h[12] = 0xbe;
    h[13] = 0xde;
    h[14] = words >> 8;
    h[15] = words & 0xff;
    let o = 16;
    for (const e of extensions) {
      h[o++] = (e.id << 4) | (e.data.byteLength - 1);
      h.set(e.data, o);
      o += e.data.byteLength;
    }
    // the rest is zero padding (RFC 8285 4.2)
  }
  return h;
}

/** One outgoing SSRC of a viewer. */
export class RtpStream {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly clockRate: number;
  readonly template: Uint8Array;
  /** Index (RFC 3711 3.3.1: ROC * 2^16 + SEQ) of the next packet. */
  private next: number;
  /** Packets and payload octets sent (RFC 3550 6.4.1). */
  packets = 0;
  octets = 0;
  retransmitted = 0;
  private readonly mask: number;
  private readonly histPayload: (RtpPayload | undefined)[];
  private readonly histTs: Uint32Array;
  private tokens = 0;
  private readonly rtx: { ssrc: number; template: Uint8Array; next: number } | undefined;

  constructor(p: RtpStreamParams) {
    this.ssrc = p.ssrc >>> 0;
    this.payloadType = p.payloadType;
    this.clockRate = p.clockRate;
    this.template = headerTemplate(this.ssrc, p.payloadType, p.extensions);
    this.next = p.firstSeq ?? Math.floor(Math.random() * 0x8000);
    const h = p.history ?? 0;
    if (h & (h - 1)) throw new Error(`history ${h} is not a power of two`);
    this.mask = h - 1;
    this.histPayload = new Array(h);
    this.histTs = new Uint32Array(h);
    if (p.rtx) {
      this.rtx = { ssrc: p.rtx.ssrc >>> 0, template: headerTemplate(p.rtx.ssrc, p.rtx.payloadType, p.extensions), next: Math.floor(Math.random() * 0x8000) };
    }
  }

  /** The sequence number of the next packet. */
  get nextSeq(): number {
    return this.next & 0xffff;
  }

  /** Builds, protects and sends one packet; returns false when there was nowhere to send it. */
  send(srtp: SrtpContext, out: DatagramOut, p: RtpPayload, timestamp: number): boolean {
    const index = this.next++;
    if (this.mask >= 0) {
      this.histPayload[index & this.mask] = p;
      this.histTs[index & this.mask] = timestamp;
      if (this.tokens < 256) this.tokens++;
    }
    this.packets++;
    this.octets += p.payload.byteLength;
    return this.emit(srtp, out, this.template, index, p, timestamp, -1);
  }

  /**
   * Sends again the packets of these sequence numbers that are still in the history (RFC 4585 6.2.1), within
   * the retransmission budget. Returns how many went out.
   */
  retransmit(srtp: SrtpContext, out: DatagramOut, seqs: Iterable<number>): number {
    if (this.mask < 0) return 0;
    const last = this.next - 1;
    let n = 0;
    for (const seq of seqs) {
      const back = ((last & 0xffff) - (seq & 0xffff)) & 0xffff;
      if (back > this.mask || back >= this.packets) continue; // too old, or not sent yet
      if (this.tokens < 1) break;
      const index = last - back;
      const p = this.histPayload[index & this.mask];
      if (!p) continue;
      const ts = this.histTs[index & this.mask]!;
      this.tokens--;
      let ok: boolean;
      if (this.rtx) {
        const ri = this.rtx.next++;
        ok = this.emit(srtp, out, this.rtx.template, ri, p, ts, index & 0xffff);
      } else {
        ok = this.emit(srtp, out, this.template, index, p, ts, -1);
      }
      if (ok) {
        n++;
        this.retransmitted++;
      }
    }
    return n;
  }

  /** Writes header (template + marker/PT, SEQ, TS), [OSN,] payload; protects it in place and sends it. */
  private emit(srtp: SrtpContext, out: DatagramOut, template: Uint8Array, index: number, p: RtpPayload, ts: number, osn: number): boolean {
    const hl = template.byteLength;
    const body = p.payload.byteLength + (osn >= 0 ? 2 : 0);
    const len = hl + body;
    const buf = out.buffer(len + srtp.rtpOverhead);
    if (!buf) return false;
    buf.set(template, 0);
    if (p.marker) buf[1] = template[1]! | 0x80;
    const seq = index & 0xffff;
    buf[2] = seq >> 8;
    buf[3] = seq & 0xff;
    buf[4] = ts >>> 24;
    buf[5] = (ts >>> 16) & 0xff;
    buf[6] = (ts >>> 8) & 0xff;
    buf[7] = ts & 0xff;
    if (osn >= 0) {
      // RFC 4588 4: the original sequence number, then the original payload.
      buf[hl] = osn >> 8;
      buf[hl + 1] = osn & 0xff;
      buf.set(p.payload, hl + 2);
    } else {
      buf.set(p.payload, hl);
    }
    const n = srtp.protectRtp(buf, hl, len, Math.floor(index / 0x10000));
    out.send(n === buf.byteLength ? buf : buf.subarray(0, n));
    return true;
  }
}

/** A viewer's media senders (video, audio) sharing one SRTP context and one destination. */
export class ViewerRtpSender {
  /** Wallclock minus presentation time (ms) of this viewer's media: the SR's NTP <-> RTP mapping. */
  private anchor: number | undefined;
  private srtcpIndex = 0;
  /** The middle 32 bits of the NTP timestamp of the last SR per SSRC (RFC 3550 6.4.1 LSR). */
  private lastSr = new Map<number, number>();
  /** Round-trip time from the last receiver report that echoed one of our SRs (RFC 3550 6.4.1). */
  rttMs: number | undefined;

  constructor(
    private readonly srtp: SrtpContext,
    private readonly out: DatagramOut,
    private readonly cname: string,
    readonly video: RtpStream | undefined,
    readonly audio: RtpStream | undefined,
  ) {}

  /** Sends one unit's packets on `stream`; `ptsMs` is its presentation time (for the sender reports). */
  send(stream: RtpStream, payloads: RtpPayload[], timestamp: number, ptsMs: number, nowMs: number): void {
    // (Re)anchor on the first packet and after a jump of the presentation time (republish, a GOP burst).
    if (this.anchor === undefined || Math.abs(nowMs - this.anchor - ptsMs) > 3000) this.anchor = nowMs - ptsMs;
    for (const p of payloads) stream.send(this.srtp, this.out, p, timestamp);
  }

  /** Answers a generic NACK (RFC 4585 6.2.1) for `ssrc`: how many packets went again. */
  nack(ssrc: number, seqs: Iterable<number>): number {
    const s = ssrc === this.video?.ssrc ? this.video : ssrc === this.audio?.ssrc ? this.audio : undefined;
    return s ? s.retransmit(this.srtp, this.out, seqs) : 0;
  }

  /**
   * A report block of a receiver report about one of our SSRCs: RTT = arrival - LSR - DLSR, all in the middle
   * 32 bits of NTP timestamps (RFC 3550 6.4.1).
   */
  receiverReport(ssrc: number, lsr: number, dlsr: number, nowMs: number): void {
    if (!lsr || this.lastSr.get(ssrc) !== lsr) return;
    const [msw, lsw] = ntpTime(nowMs);
    const arrival = (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0;
    const rtt = ((arrival - lsr - dlsr) >>> 0) / 65536;
    if (rtt < 60) this.rttMs = Math.round(rtt * 1000);
  }

  /** Sends one SR + CNAME (RFC 3550 6.4.1, 6.5) per stream that has sent media. */
  reports(nowMs: number): void {
    if (this.anchor === undefined) return;
    for (const s of [this.video, this.audio]) {
      if (!s || !s.packets) continue;
      const rtpTimestamp = Math.round(((nowMs - this.anchor) * s.clockRate) / 1000) >>> 0;
      const rtcp = senderReport({ ssrc: s.ssrc, unixMs: nowMs, rtpTimestamp, packets: s.packets, octets: s.octets }, this.cname);
      this.lastSr.set(s.ssrc, ((rtcp[10]! << 24) | (rtcp[11]! << 16) | (rtcp[12]! << 8) | rtcp[13]!) >>> 0);
      const enc = this.srtp.protectRtcp(rtcp, this.srtcpIndex);
      this.srtcpIndex = (this.srtcpIndex + 1) & 0x7fffffff;
      const buf = this.out.buffer(enc.byteLength);
      if (!buf) return;
      buf.set(enc, 0);
      this.out.send(buf);
    }
  }
}
