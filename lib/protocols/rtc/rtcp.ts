/**
 * RTCP of the viewers' send path (RFC 3550 6).
 * Written: a sender report with the stream's SDES CNAME, one compound packet per SSRC (6.1: a compound packet
 * starts with the SR and carries the CNAME), so receivers map each stream's RTP timestamps to one wallclock and
 * keep audio and video in sync (6.4.1).
 * Read (`readRtcp`, what a viewer sends once werift is out of its way, session.ts): receiver report blocks (the
 * RTT), generic NACKs (RFC 4585 6.2.1), PLI (6.3.1) and FIR (RFC 5104 4.3.1) keyframe requests, BYE (6.6).
 * Everything else is skipped; a malformed packet ends the reading of its compound (never a throw).
 */

/** RTCP packet types (RFC 3550 12.1). */
export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_BYE = 203;
/** Transport-layer and payload-specific feedback (RFC 4585 6.1). */
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const RTCP_SDES = 202;
export { ntpTime, senderReport, type SenderInfo } from "../../formats/rtp/rtcp-sr.ts";

/** What a viewer's compound RTCP packet says that we act on. */
export type RtcpItem =
  /** A report block (RFC 3550 6.4.1) about `ssrc`: LSR and DLSR for the RTT, the loss counters. */
  | { type: "report"; ssrc: number; fractionLost: number; lost: number; lsr: number; dlsr: number }
  /** Generic NACK (RFC 4585 6.2.1): sequence numbers of `ssrc` to send again (PID + the BLP bits). */
  | { type: "nack"; ssrc: number; seqs: number[] }
  /** PLI (RFC 4585 6.3.1) or FIR (RFC 5104 4.3.1): a keyframe for `ssrc`. */
  | { type: "keyframe"; ssrc: number; fir: boolean }
  | { type: "bye" };

/** At most this many NACKed sequence numbers are read from one compound packet (the sender's budget is lower). */
const MAX_NACK_SEQS = 1024;

/** Reads a decrypted compound RTCP packet (RFC 3550 6.1, RFC 5761 demultiplexed). */
export function readRtcp(d: Uint8Array): RtcpItem[] {
  const out: RtcpItem[] = [];
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let nackSeqs = 0;
  let pos = 0;
  while (pos + 4 <= d.byteLength) {
    const b0 = d[pos]!;
    if (b0 >> 6 !== 2) break; // version 2
    const count = b0 & 0x1f; // RC / SC / FMT
    const pt = d[pos + 1]!;
    const end = pos + (v.getUint16(pos + 2) + 1) * 4;
    if (end > d.byteLength) break;
    if (pt === RTCP_SR || pt === RTCP_RR) {
      // header 8 (+ sender info 20 for an SR), then `count` report blocks of 24 bytes (6.4.1, 6.4.2)
      let o = pos + 8 + (pt === RTCP_SR ? 20 : 0);
      for (let i = 0; i < count && o + 24 <= end; i++, o += 24) {
        const lost = v.getUint32(o + 4) & 0xffffff;
        out.push({
          type: "report",
          ssrc: v.getUint32(o),
          fractionLost: d[o + 4]!,
          lost: lost & 0x800000 ? lost - 0x1000000 : lost,
          lsr: v.getUint32(o + 16),
          dlsr: v.getUint32(o + 20),
        });
      }
    } else if (pt === RTCP_RTPFB && count === 1 && end - pos >= 12) {
      // header 4, sender SSRC 4, media SSRC 4, then FCIs: PID 16 bits, BLP 16 bits (RFC 4585 6.2.1)
      const ssrc = v.getUint32(pos + 8);
      const seqs: number[] = [];
      for (let o = pos + 12; o + 4 <= end && nackSeqs < MAX_NACK_SEQS; o += 4) {
        const pid = v.getUint16(o);
        const blp = v.getUint16(o + 2);
        seqs.push(pid);
        for (let bit = 0; bit < 16; bit++) if (blp & (1 << bit)) seqs.push((pid + bit + 1) & 0xffff);
        nackSeqs += 17;
      }
      if (seqs.length) out.push({ type: "nack", ssrc, seqs });
    } else if (pt === RTCP_PSFB && count === 1 && end - pos >= 12) {
      out.push({ type: "keyframe", ssrc: v.getUint32(pos + 8), fir: false });
    } else if (pt === RTCP_PSFB && count === 4 && end - pos >= 20) {
      // FIR: the media SSRC field is 0, the FCI entries name the SSRCs (RFC 5104 4.3.1.1)
      for (let o = pos + 12; o + 8 <= end; o += 8) out.push({ type: "keyframe", ssrc: v.getUint32(o), fir: true });
    } else if (pt === RTCP_BYE) {
      out.push({ type: "bye" });
    }
    pos = end;
  }
  return out;
}

/**
 * SRTCP replay protection (RFC 3711 3.3.2) with a 64-packet window: accept() is true the first time an index
 * within the window (or ahead of it) is seen.
 */
export class ReplayWindow {
  private top = -1;
  private seen = new Uint8Array(64);

  accept(index: number): boolean {
    if (index > this.top) {
      // slide: forget the slots between the old top and the new one
      for (let i = Math.max(this.top + 1, index - 63); i <= index; i++) this.seen[i & 63] = 0;
      this.top = index;
      this.seen[index & 63] = 1;
      return true;
    }
    if (this.top - index >= 64 || this.seen[index & 63]) return false;
    this.seen[index & 63] = 1;
    return true;
  }
}

/** At most this many RTCP sender SSRCs tracked per session (a viewer has one or a few; this bounds a forger). */
const MAX_REPLAY_SSRCS = 16;

/**
 * SRTCP replay protection per sending SSRC: the SRTCP index counts per SSRC (RFC 3711 3.2.3, each SSRC has its
 * own cryptographic context), and a peer may send RTCP under several SSRCs (pion: one per interceptor; werift: its
 * receivers' SSRC for reports, 1 for a hand-made PLI). One window for all of them dropped the packets of every SSRC
 * but the fastest as replays. The SSRC is read from the SRTCP header, which is not encrypted (RFC 3711 3.4).
 */
export class SrtcpReplay {
  private windows = new Map<number, ReplayWindow>();

  accept(ssrc: number, index: number): boolean {
    let w = this.windows.get(ssrc);
    if (!w) {
      if (this.windows.size >= MAX_REPLAY_SSRCS) this.windows.delete(this.windows.keys().next().value as number);
      w = new ReplayWindow();
      this.windows.set(ssrc, w);
    }
    return w.accept(index);
  }
}
