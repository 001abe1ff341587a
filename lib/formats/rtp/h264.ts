/**
 * H.264 over RTP (RFC 6184), our own packetizer and depacketizer, packetization-mode 1 (non-interleaved):
 * single NAL unit packets (5.6), STAP-A aggregation (5.7.1) and FU-A fragmentation (5.8).
 *
 * Packetizer: one access unit (AVCC NALUs) -> RTP payloads no larger than the MTU; before a keyframe a STAP-A
 * carries the SPS and PPS (browsers join mid-stream and need them in band); the last payload of the frame
 * gets the marker bit (RFC 6184 5.1). Access unit delimiters and in-frame parameter sets are dropped (the
 * STAP-A carries the current ones).
 * Depacketizer: payloads in sequence order -> access units (NALU lists), a frame ending at the marker bit or at
 * a timestamp change; a sequence gap inside a frame marks the frame broken (the caller drops it and waits for
 * a keyframe, asking the sender for one).
 */
import { AVC_NALU_AUD, AVC_NALU_IDR, AVC_NALU_PPS, AVC_NALU_SEI, AVC_NALU_SPS } from "../../media/avc.ts";

export const STAP_A = 24;
export const FU_A = 28;
/** Payload bytes per RTP packet: leaves room for RTP/SRTP headers and extensions in a 1280+ byte path MTU. */
export const DEFAULT_RTP_MTU = 1200;

export interface RtpPayload {
  payload: Uint8Array;
  marker: boolean;
}

export interface PacketizeOptions {
  mtu?: number;
  /** Keep SEI NALUs (vhost rtc.keep_avc_nalu_sei, default on). */
  keepSei?: boolean;
}

/**
 * Packetizes one access unit. `nalus` are the frame's NAL units (no length prefix); `paramSets` (SPS, PPS)
 * are sent first in a STAP-A when given (pass them for keyframes).
 */
export function packetizeH264(nalus: readonly Uint8Array[], paramSets: readonly Uint8Array[] | undefined,
  opts: PacketizeOptions = {}): RtpPayload[] {
  const mtu = opts.mtu ?? DEFAULT_RTP_MTU;
  const keepSei = opts.keepSei ?? true;
  const out: RtpPayload[] = [];
  if (paramSets && paramSets.length) {
    const size = 1 + paramSets.reduce((n, p) => n + 2 + p.byteLength, 0);
    if (paramSets.length > 1 && size <= mtu) out.push({ payload: stapA(paramSets), marker: false });
    else for (const p of paramSets) pushNalu(out, p, mtu);
  }
  for (const n of nalus) {
    if (n.byteLength === 0) continue;
    const t = n[0]! & 0x1f;
    if (t === AVC_NALU_AUD || t === AVC_NALU_SPS || t === AVC_NALU_PPS) continue;
    if (t === AVC_NALU_SEI && !keepSei) continue;
    pushNalu(out, n, mtu);
  }
  if (out.length) out[out.length - 1]!.marker = true;
  return out;
}

function stapA(nalus: readonly Uint8Array[]): Uint8Array {
  let nri = 0;
  let size = 1;
  for (const n of nalus) {
    nri = Math.max(nri, n[0]! & 0x60);
    size += 2 + n.byteLength;
  }
  const b = new Uint8Array(size);
  b[0] = nri | STAP_A;
  let o = 1;
  for (const n of nalus) {
    b[o] = n.byteLength >> 8;
    b[o + 1] = n.byteLength & 0xff;
    b.set(n, o + 2);
    o += 2 + n.byteLength;
  }
  return b;
}

function pushNalu(out: RtpPayload[], n: Uint8Array, mtu: number): void {
  if (n.byteLength <= mtu) {
    out.push({ payload: n, marker: false });
    return;
  }
  // FU-A: indicator (F, NRI, type 28), header (S, E, R=0, NAL type), then the NALU body without its header.
  const indicator = (n[0]! & 0xe0) | FU_A;
  const type = n[0]! & 0x1f;
  const body = n.subarray(1);
  const chunk = mtu - 2;
  for (let o = 0; o < body.byteLength; o += chunk) {
    const end = Math.min(o + chunk, body.byteLength);
    const p = new Uint8Array(2 + end - o);
    p[0] = indicator;
    p[1] = (o === 0 ? 0x80 : 0) | (end === body.byteLength ? 0x40 : 0) | type;
    p.set(body.subarray(o, end), 2);
    out.push({ payload: p, marker: false });
  }
}

export interface H264Frame {
  nalus: Uint8Array[];
  /** RTP timestamp (90 kHz) of the frame. */
  timestamp: number;
  keyframe: boolean;
  /** A packet of the frame was lost: the frame cannot be decoded correctly. */
  broken: boolean;
}

/** Most NALUs one access unit may collect, and most bytes one FU-A may collect (a peer cannot grow them without bound). */
const MAX_NALUS = 1024;
const MAX_FU_BYTES = 8 * 1024 * 1024;

export class H264Depacketizer {
  private nalus: Uint8Array[] = [];
  private fu: Uint8Array[] | undefined;
  private fuBytes = 0;
  private ts: number | undefined;
  private broken = false;
  private lastSeq: number | undefined;
  /** Frames over, for stats. */
  frames = 0;

  /**
   * Feeds one RTP payload (in sequence order; gaps allowed). Returns the frames completed by this packet:
   * usually none or one, two when a timestamp change ends a frame that lost its marker packet.
   */
  push(payload: Uint8Array, seq: number, timestamp: number, marker: boolean): H264Frame[] {
    const out: H264Frame[] = [];
    const gap = this.lastSeq !== undefined && ((this.lastSeq + 1) & 0xffff) !== seq;
    if (this.ts !== undefined && timestamp !== this.ts) {
      // The previous frame never saw its marker: emit what we have (it lost its tail).
      const f = this.finish(true);
      if (f) out.push(f);
    }
    // Lost packets belong to this frame or to a frame lost whole: either way the decoding chain is broken.
    if (gap) this.broken = true;
    this.lastSeq = seq;
    this.ts = timestamp;
    this.parse(payload);
    if (marker) {
      const f = this.finish(false);
      if (f) out.push(f);
    }
    return out;
  }

  private parse(p: Uint8Array): void {
    if (p.byteLength < 1) return;
    const type = p[0]! & 0x1f;
    if (type >= 1 && type <= 23) {
      this.endFu(true);
      this.add(p);
    } else if (type === STAP_A) {
      this.endFu(true);
      let o = 1;
      while (o + 2 <= p.byteLength) {
        const len = (p[o]! << 8) | p[o + 1]!;
        o += 2;
        if (len === 0 || o + len > p.byteLength) {
          this.broken = true;
          break;
        }
        this.add(p.subarray(o, o + len));
        o += len;
      }
    } else if (type === FU_A) {
      if (p.byteLength < 3) {
        this.broken = true;
        return;
      }
      const h = p[1]!;
      const start = (h & 0x80) !== 0;
      const end = (h & 0x40) !== 0;
      if (start) {
        this.endFu(true);
        this.fu = [Uint8Array.of((p[0]! & 0xe0) | (h & 0x1f))];
        this.fuBytes = 1;
      } else if (!this.fu) {
        this.broken = true; // a middle/end without its start
        return;
      }
      this.fuBytes += p.byteLength - 2;
      if (this.fuBytes > MAX_FU_BYTES) {
        this.fu = undefined;
        this.broken = true;
        return;
      }
      this.fu.push(p.subarray(2));
      if (end) this.endFu(false);
    } else {
      // STAP-B, MTAP, FU-B are for interleaved mode, which we never negotiate.
      this.broken = true;
    }
  }

  private add(n: Uint8Array): void {
    if (this.nalus.length >= MAX_NALUS) this.broken = true;
    else this.nalus.push(n);
  }

  private endFu(incomplete: boolean): void {
    if (!this.fu) return;
    if (incomplete) this.broken = true;
    else this.add(concat(this.fu));
    this.fu = undefined;
  }

  private finish(lostTail: boolean): H264Frame | undefined {
    this.endFu(true);
    const nalus = this.nalus;
    const ts = this.ts;
    const broken = this.broken || lostTail;
    this.nalus = [];
    this.broken = false;
    this.ts = undefined;
    if (!nalus.length || ts === undefined) return undefined;
    this.frames++;
    const keyframe = nalus.some((n) => (n[0]! & 0x1f) === AVC_NALU_IDR);
    return { nalus, timestamp: ts, keyframe, broken };
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const b = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    b.set(p, o);
    o += p.byteLength;
  }
  return b;
}
