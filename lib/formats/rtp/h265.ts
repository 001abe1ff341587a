/**
 * H.265 over RTP (RFC 7798), our own packetizer and depacketizer, without DONL (sprop-max-don-diff=0, the
 * default 7.1): single NAL unit packets (4.4.1), aggregation packets (AP, type 48, 4.4.2) and fragmentation units
 * (FU, type 49, 4.4.3). PACI (type 50) is not sent and is skipped when received.
 *
 *   PayloadHdr (2 bytes, = NAL unit header, 1.1.4): F(1) Type(6) LayerId(6) TID(3)
 *   FU header (1 byte): S(1) E(1) FuType(6)
 *
 * Packetizer: one access unit (NALUs without start codes) -> payloads no larger than the MTU, VPS/SPS/PPS first
 * in one AP on keyframes; marker on the last payload of the access unit (4.1).
 * Depacketizer: payloads in sequence order -> access units, ending at the marker or a timestamp change; a
 * sequence gap marks the unit broken.
 */
import { HEVC_NALU_AUD, HEVC_NALU_PPS, HEVC_NALU_SPS, HEVC_NALU_VPS, isHevcIrapType } from "../../media/hevc.ts";
import { DEFAULT_RTP_MTU, type RtpPayload } from "./h264.ts";

export const HEVC_AP = 48;
export const HEVC_FU = 49;
export const HEVC_PACI = 50;

const naluType = (n: Uint8Array): number => (n[0]! >> 1) & 0x3f;

export function packetizeH265(nalus: readonly Uint8Array[], paramSets: readonly Uint8Array[] | undefined, mtu = DEFAULT_RTP_MTU): RtpPayload[] {
  const out: RtpPayload[] = [];
  if (paramSets && paramSets.length) {
    const size = 2 + paramSets.reduce((n, p) => n + 2 + p.byteLength, 0);
    if (paramSets.length > 1 && size <= mtu) out.push({ payload: aggregate(paramSets, size), marker: false });
    else for (const p of paramSets) push(out, p, mtu);
  }
  for (const n of nalus) {
    if (n.byteLength < 2) continue;
    const t = naluType(n);
    if (t === HEVC_NALU_AUD || t === HEVC_NALU_VPS || t === HEVC_NALU_SPS || t === HEVC_NALU_PPS) continue;
    push(out, n, mtu);
  }
  if (out.length) out[out.length - 1]!.marker = true;
  return out;
}

/** AP (4.4.2): PayloadHdr with type 48, the lowest LayerId and TID of the units, then size + unit each. */
function aggregate(nalus: readonly Uint8Array[], size: number): Uint8Array {
  const b = new Uint8Array(size);
  let layer = 63;
  let tid = 7;
  let f = 0;
  for (const n of nalus) {
    f |= n[0]! & 0x80;
    layer = Math.min(layer, ((n[0]! & 1) << 5) | (n[1]! >> 3));
    tid = Math.min(tid, n[1]! & 7);
  }
  b[0] = f | (HEVC_AP << 1) | (layer >> 5);
  b[1] = ((layer & 0x1f) << 3) | tid;
  let o = 2;
  for (const n of nalus) {
    b[o] = n.byteLength >> 8;
    b[o + 1] = n.byteLength & 0xff;
    b.set(n, o + 2);
    o += 2 + n.byteLength;
  }
  return b;
}

function push(out: RtpPayload[], n: Uint8Array, mtu: number): void {
  if (n.byteLength <= mtu) {
    out.push({ payload: n, marker: false });
    return;
  }
  // FU (4.4.3): PayloadHdr = the NAL header with type 49, FU header with S/E and the NAL type, then the body.
  const t = naluType(n);
  const h0 = (n[0]! & 0x81) | (HEVC_FU << 1);
  const h1 = n[1]!;
  const body = n.subarray(2);
  const chunk = mtu - 3;
  for (let o = 0; o < body.byteLength; o += chunk) {
    const end = Math.min(o + chunk, body.byteLength);
    const p = new Uint8Array(3 + end - o);
    p[0] = h0;
    p[1] = h1;
    p[2] = (o === 0 ? 0x80 : 0) | (end === body.byteLength ? 0x40 : 0) | t;
    p.set(body.subarray(o, end), 3);
    out.push({ payload: p, marker: false });
  }
}

export interface H265Frame {
  nalus: Uint8Array[];
  timestamp: number;
  keyframe: boolean;
  broken: boolean;
}

/** Most NALUs one access unit may collect (a peer cannot grow the list without bound). */
const MAX_NALUS = 1024;
/** Most bytes one fragmented NALU may collect. */
const MAX_FU_BYTES = 8 * 1024 * 1024;

export class H265Depacketizer {
  private nalus: Uint8Array[] = [];
  private fu: Uint8Array[] | undefined;
  private fuBytes = 0;
  private ts: number | undefined;
  private broken = false;
  private lastSeq: number | undefined;
  frames = 0;

  push(payload: Uint8Array, seq: number, timestamp: number, marker: boolean): H265Frame[] {
    const out: H265Frame[] = [];
    const gap = this.lastSeq !== undefined && ((this.lastSeq + 1) & 0xffff) !== seq;
    if (this.ts !== undefined && timestamp !== this.ts) {
      const f = this.finish(true);
      if (f) out.push(f);
    }
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

  private add(n: Uint8Array): void {
    if (this.nalus.length >= MAX_NALUS) {
      this.broken = true;
      return;
    }
    this.nalus.push(n);
  }

  private parse(p: Uint8Array): void {
    if (p.byteLength < 3) return;
    const type = naluType(p);
    if (type === HEVC_AP) {
      this.endFu(true);
      let o = 2;
      while (o + 2 <= p.byteLength) {
        const len = (p[o]! << 8) | p[o + 1]!;
        o += 2;
        if (len < 2 || o + len > p.byteLength) {
          this.broken = true;
          break;
        }
        this.add(p.subarray(o, o + len));
        o += len;
      }
    } else if (type === HEVC_FU) {
      const h = p[2]!;
      const start = (h & 0x80) !== 0;
      const end = (h & 0x40) !== 0;
      if (start) {
        this.endFu(true);
        const t = h & 0x3f;
        this.fu = [Uint8Array.of((p[0]! & 0x81) | (t << 1), p[1]!)];
        this.fuBytes = 2;
      } else if (!this.fu) {
        this.broken = true;
        return;
      }
      this.fuBytes += p.byteLength - 3;
      if (this.fuBytes > MAX_FU_BYTES) {
        this.fu = undefined;
        this.broken = true;
        return;
      }
      this.fu!.push(p.subarray(3));
      if (end) this.endFu(false);
    } else if (type === HEVC_PACI) {
      // PACI (4.4.4) carries a unit behind extra headers: we never negotiate it.
      this.broken = true;
    } else {
      this.endFu(true);
      this.add(p);
    }
  }

  private endFu(incomplete: boolean): void {
    if (!this.fu) return;
    if (incomplete) this.broken = true;
    else this.add(concat(this.fu));
    this.fu = undefined;
  }

  private finish(lostTail: boolean): H265Frame | undefined {
    this.endFu(true);
    const nalus = this.nalus;
    const ts = this.ts;
    const broken = this.broken || lostTail;
    this.nalus = [];
    this.broken = false;
    this.ts = undefined;
    if (!nalus.length || ts === undefined) return undefined;
    this.frames++;
    return { nalus, timestamp: ts, keyframe: nalus.some((n) => isHevcIrapType(naluType(n))), broken };
  }
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
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
