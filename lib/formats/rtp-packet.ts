/**
 * RTP fixed header (RFC 3550 section 5.1), CSRC list, header extension (5.3.1) and padding: a neutral parser for
 * any RTP receiver (GB28181 PS over RTP, RTSP). Returns views of the input (no copies) or a string saying what
 * is wrong; never throws.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *    |                           timestamp                           |
 *    |           synchronization source (SSRC) identifier            |
 *    |            contributing source (CSRC) identifiers (CC)        |
 */

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  csrcs: number[];
  /** Header extension (5.3.1): profile-defined 16 bits and the extension words. */
  extension: { profile: number; data: Uint8Array } | undefined;
  /** Padding bytes removed from the end (P bit). */
  padding: number;
  payload: Uint8Array;
}

/** Parses one RTP packet; a string describes why `p` is not one. */
export function parseRtpPacket(p: Uint8Array): RtpPacket | string {
  const n = p.byteLength;
  if (n < 12) return `RTP packet of ${n} bytes (header is 12)`;
  const b0 = p[0]!;
  if (b0 >> 6 !== 2) return `RTP version ${b0 >> 6}`;
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (off > n) return `RTP CSRC count ${cc} past the packet`;
  const dv = new DataView(p.buffer, p.byteOffset, n);
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(dv.getUint32(12 + i * 4));
  let extension: RtpPacket["extension"];
  if (b0 & 0x10) {
    if (off + 4 > n) return "RTP header extension past the packet";
    const words = dv.getUint16(off + 2);
    const end = off + 4 + words * 4;
    if (end > n) return `RTP header extension of ${words} words past the packet`;
    extension = { profile: dv.getUint16(off), data: p.subarray(off + 4, end) };
    off = end;
  }
  let end = n;
  let padding = 0;
  if (b0 & 0x20) {
    padding = p[n - 1]!;
    if (padding === 0 || off + padding > n) return `RTP padding of ${padding} bytes`;
    end -= padding;
  }
  return {
    marker: (p[1]! & 0x80) !== 0, payloadType: p[1]! & 0x7f, sequence: dv.getUint16(2), timestamp: dv.getUint32(4),
    ssrc: dv.getUint32(8), csrcs, extension, padding, payload: p.subarray(off, end),
  };
}

/** Builds an RTP packet (tests, tools): 12-byte header, no CSRC or extension. */
export function buildRtpPacket(o: { payloadType: number; sequence: number; timestamp: number; ssrc: number; marker?: boolean; payload: Uint8Array }): Uint8Array {
  const out = new Uint8Array(12 + o.payload.byteLength);
  const dv = new DataView(out.buffer);
  out[0] = 0x80;
  out[1] = (o.marker ? 0x80 : 0) | (o.payloadType & 0x7f);
  dv.setUint16(2, o.sequence & 0xffff);
  dv.setUint32(4, o.timestamp >>> 0);
  dv.setUint32(8, o.ssrc >>> 0);
  out.set(o.payload, 12);
  return out;
}
