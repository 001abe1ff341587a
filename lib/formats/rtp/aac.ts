/**
 * AAC over RTP as RFC 3640 mpeg4-generic, mode AAC-hbr (3.3.6): sizeLength=13, indexLength=3,
 * indexDeltaLength=3, no CTS/DTS or auxiliary section. Payload (3.2.1):
 *
 *   AU-headers-length (16 bits, in bits) | AU-header x N (13-bit AU-size, 3-bit AU-index/-delta = 0) | AUs
 *
 * Packetizer: one raw AAC frame (no ADTS) per packet; a frame larger than the MTU is fragmented (3.2.3: each
 * fragment repeats the AU-header with the whole AU size, marker on the last fragment only).
 * Depacketizer: several AUs per packet (consecutive frames, timestamps +1024 samples each, or the frame length
 * given), or one AU in fragments collected until the marker; a broken payload drops what it carried.
 */
import { DEFAULT_RTP_MTU, type RtpPayload } from "./h264.ts";

/** RFC 3640's limit: AU-size is a 13-bit field. */
export const AAC_MAX_AU = 8191;

export function packetizeAac(frame: Uint8Array, mtu = DEFAULT_RTP_MTU): RtpPayload[] {
  const size = frame.byteLength;
  if (size > AAC_MAX_AU) return [];
  const header = (size << 3) & 0xffff;
  const room = mtu - 4;
  const out: RtpPayload[] = [];
  for (let o = 0; o < size || (o === 0 && size === 0); o += room) {
    const end = Math.min(size, o + room);
    const p = new Uint8Array(4 + end - o);
    p[0] = 0;
    p[1] = 16;
    p[2] = header >> 8;
    p[3] = header & 0xff;
    p.set(frame.subarray(o, end), 4);
    out.push({ payload: p, marker: end === size });
    if (size === 0) break;
  }
  return out;
}

export interface AacAu {
  data: Uint8Array;
  /** RTP timestamp of the AU: the packet's plus `index * frameSamples`. */
  timestamp: number;
}

export interface AacDepacketizerOptions {
  sizeLength?: number;
  indexLength?: number;
  indexDeltaLength?: number;
  /** Samples per AU (1024 for AAC-LC). */
  frameSamples?: number;
}

export class AacDepacketizer {
  private frag: Uint8Array[] | undefined;
  private fragSize = 0;
  private fragTotal = 0;
  private fragTs = 0;
  private lastSeq: number | undefined;
  private readonly sizeLength: number;
  private readonly indexLength: number;
  private readonly indexDeltaLength: number;
  private readonly frameSamples: number;
  /** Payloads that could not be read. */
  errors = 0;

  constructor(o: AacDepacketizerOptions = {}) {
    this.sizeLength = o.sizeLength ?? 13;
    this.indexLength = o.indexLength ?? 3;
    this.indexDeltaLength = o.indexDeltaLength ?? 3;
    this.frameSamples = o.frameSamples ?? 1024;
  }

  push(p: Uint8Array, seq: number, timestamp: number, marker: boolean): AacAu[] {
    const gap = this.lastSeq !== undefined && ((this.lastSeq + 1) & 0xffff) !== seq;
    this.lastSeq = seq;
    if (gap && this.frag) this.frag = undefined;
    if (p.byteLength < 2) {
      this.errors++;
      return [];
    }
    const headersBits = (p[0]! << 8) | p[1]!;
    const headersBytes = (headersBits + 7) >> 3;
    if (2 + headersBytes > p.byteLength) {
      this.errors++;
      return [];
    }
    const sizes: number[] = [];
    let bit = 0;
    const read = (n: number): number => {
      let v = 0;
      for (let i = 0; i < n; i++, bit++) v = (v << 1) | ((p[2 + (bit >> 3)]! >> (7 - (bit & 7))) & 1);
      return v;
    };
    const per = this.sizeLength + this.indexLength;
    if (per <= 0 || this.sizeLength <= 0) {
      this.errors++;
      return [];
    }
    while (bit + (sizes.length === 0 ? per : this.sizeLength + this.indexDeltaLength) <= headersBits) {
      sizes.push(read(this.sizeLength));
      read(sizes.length === 1 ? this.indexLength : this.indexDeltaLength);
    }
    let o = 2 + headersBytes;
    const data = p.subarray(o);
    if (sizes.length === 1 && sizes[0]! > data.byteLength) {
      // A fragment of one AU (3.2.3): collect until the marker.
      const total = sizes[0]!;
      if (!this.frag || this.fragTs !== timestamp || this.fragTotal !== total) {
        this.frag = [];
        this.fragSize = 0;
        this.fragTotal = total;
        this.fragTs = timestamp;
      }
      this.frag.push(data.slice());
      this.fragSize += data.byteLength;
      if (this.fragSize > total) {
        this.frag = undefined;
        this.errors++;
        return [];
      }
      if (!marker) return [];
      const parts = this.frag;
      this.frag = undefined;
      if (this.fragSize !== total) {
        this.errors++;
        return [];
      }
      const au = new Uint8Array(total);
      let w = 0;
      for (const x of parts) {
        au.set(x, w);
        w += x.byteLength;
      }
      return [{ data: au, timestamp }];
    }
    this.frag = undefined;
    const out: AacAu[] = [];
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i]!;
      if (o + n > p.byteLength) {
        this.errors++;
        break;
      }
      out.push({ data: p.subarray(o, o + n), timestamp: (timestamp + i * this.frameSamples) >>> 0 });
      o += n;
    }
    return out;
  }
}
