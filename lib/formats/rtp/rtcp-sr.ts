/**
 * RTCP sender reports (RFC 3550 6.4.1) with the SDES CNAME (6.5.1), one compound packet per SSRC: what any RTP
 * sender (WebRTC viewers, RTSP players) sends so receivers map each stream's RTP timestamps to one wallclock and
 * keep audio and video in sync (6.4.1).
 */
const RTCP_SR = 200;
const RTCP_SDES = 202;
/** SDES item CNAME (RFC 3550 6.5.1). */
const SDES_CNAME = 1;
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2208988800;

export interface SenderInfo {
  ssrc: number;
  /** Wallclock of the report, Unix milliseconds (fractions allowed). */
  unixMs: number;
  /** The RTP timestamp of the same instant, in the stream's clock. */
  rtpTimestamp: number;
  /** Packets and payload octets sent since the stream started (6.4.1, both wrap at 2^32). */
  packets: number;
  octets: number;
}

/** The 64-bit NTP timestamp (RFC 3550 4) of a Unix time in ms: [seconds, fraction * 2^32]. */
export function ntpTime(unixMs: number): [number, number] {
  const s = Math.floor(unixMs / 1000);
  const frac = (unixMs - s * 1000) / 1000;
  return [(s + NTP_UNIX_OFFSET) >>> 0, Math.floor(frac * 0x100000000) >>> 0];
}

/** SR without report blocks (RFC 3550 6.4.1) followed by an SDES with the CNAME chunk (6.5): one compound packet. */
export function senderReport(info: SenderInfo, cname: string): Uint8Array {
  const name = new TextEncoder().encode(cname).subarray(0, 255);
  // SDES chunk: SSRC, CNAME item (type, length, text), a null item ending the list, padded to 32 bits (6.5).
  const chunk = 4 + 2 + name.byteLength + 1;
  const chunkPadded = (chunk + 3) & ~3;
  const sdesLen = 4 + chunkPadded;
  const out = new Uint8Array(28 + sdesLen);
  const v = new DataView(out.buffer);
  v.setUint8(0, 0x80); // V=2, P=0, RC=0
  v.setUint8(1, RTCP_SR);
  v.setUint16(2, 28 / 4 - 1);
  v.setUint32(4, info.ssrc >>> 0);
  const [msw, lsw] = ntpTime(info.unixMs);
  v.setUint32(8, msw);
  v.setUint32(12, lsw);
  v.setUint32(16, info.rtpTimestamp >>> 0);
  v.setUint32(20, info.packets >>> 0);
  v.setUint32(24, info.octets >>> 0);
  v.setUint8(28, 0x81); // V=2, P=0, SC=1
  v.setUint8(29, RTCP_SDES);
  v.setUint16(30, sdesLen / 4 - 1);
  v.setUint32(32, info.ssrc >>> 0);
  v.setUint8(36, SDES_CNAME);
  v.setUint8(37, name.byteLength);
  out.set(name, 38);
  // the null item and the padding are the zeros already there
  return out;
}

