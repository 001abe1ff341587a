/**
 * MPEG-2 program stream (ISO/IEC 13818-1) wire structures: pack header (2.5.3.3, MPEG-1 pack of ISO/IEC 11172-1
 * 2.4.3.2 tolerated), system header (2.5.3.5), program stream map (2.5.4.1) and the PES header (2.4.3.6/2.4.3.7,
 * MPEG-1 packet header of ISO/IEC 11172-1 2.4.3.3 tolerated). Pure functions over complete units; the
 * incremental framing around them lives in demux.ts.
 *
 * Every parser returns a value or a string saying what is wrong (never throws) so the demuxer can report it
 * with context and resynchronise.
 */

/** Start code values (the byte after 00 00 01), Table 2-18 and 2.5.3. */
export const PACK_START = 0xba;
export const SYSTEM_HEADER_START = 0xbb;
export const PSM_STREAM_ID = 0xbc;
export const PRIVATE_STREAM_1 = 0xbd;
export const PADDING_STREAM = 0xbe;
export const PRIVATE_STREAM_2 = 0xbf;
export const END_CODE = 0xb9;

/** 33-bit clocks wrap at 2^33 ticks of 90 kHz. */
export const WRAP_90K = 8589934592;

/** Reads a 33-bit PTS/DTS in the 5-byte '001x'/'0010'/'0011' marker layout (2.4.3.7). */
export function readTimestamp(b: Uint8Array, o: number): number {
  return ((b[o]! >> 1) & 7) * 1073741824 + (b[o + 1]! << 22) + ((b[o + 2]! >> 1) << 15) + (b[o + 3]! << 7) + (b[o + 4]! >> 1);
}

/** The marker bits of a 5-byte timestamp are set (bit 0 of bytes 0, 2 and 4). */
function timestampMarkersOk(b: Uint8Array, o: number): boolean {
  return (b[o]! & 1) === 1 && (b[o + 2]! & 1) === 1 && (b[o + 4]! & 1) === 1;
}

export interface PackHeader {
  mpeg1: boolean;
  /** system_clock_reference_base (90 kHz, 33 bits). */
  scr: number;
  /** program_mux_rate in units of 50 bytes/s. */
  muxRate: number;
  /** Total bytes of the pack header, stuffing included. */
  length: number;
}

/**
 * The pack header at `o` (00 00 01 BA already checked). Returns the number of bytes still needed when fewer are
 * available, or an error string.
 *  - MPEG-2 (2.5.3.3): '01' SCR(33+9) mux_rate(22) reserved(5) pack_stuffing_length(3): 14 bytes + stuffing.
 *  - MPEG-1 (ISO/IEC 11172-1 2.4.3.2): '0010' SCR(33) mux_rate(22): 12 bytes.
 */
export function parsePackHeader(b: Uint8Array, o: number, end: number): PackHeader | number | string {
  if (end - o < 5) return 5 - (end - o);
  const b4 = b[o + 4]!;
  if ((b4 & 0xc0) === 0x40) {
    if (end - o < 14) return 14 - (end - o);
    const stuffing = b[o + 13]! & 7;
    const length = 14 + stuffing;
    if (end - o < length) return length - (end - o);
    // markers: bit 2 of byte 4, bit 2 of byte 6, bit 2 of byte 8, bit 0 of byte 9, bits 0-1 of byte 12
    if ((b4 & 4) === 0 || (b[o + 6]! & 4) === 0 || (b[o + 8]! & 4) === 0 || (b[o + 9]! & 1) === 0 || (b[o + 12]! & 3) !== 3) {
      return "pack header marker bits not set";
    }
    const scr = ((b4 >> 3) & 7) * 1073741824 + ((b4 & 3) << 28) + (b[o + 5]! << 20) + ((b[o + 6]! >> 3) << 15) +
      ((b[o + 6]! & 3) << 13) + (b[o + 7]! << 5) + (b[o + 8]! >> 3);
    const muxRate = (b[o + 10]! << 14) | (b[o + 11]! << 6) | (b[o + 12]! >> 2);
    return { mpeg1: false, scr, muxRate, length };
  }
  if ((b4 & 0xf0) === 0x20) {
    if (end - o < 12) return 12 - (end - o);
    if (!timestampMarkersOk(b, o + 4) || (b[o + 9]! & 0x80) === 0 || (b[o + 11]! & 1) === 0) return "MPEG-1 pack header marker bits not set";
    const muxRate = ((b[o + 9]! & 0x7f) << 15) | (b[o + 10]! << 7) | (b[o + 11]! >> 1);
    return { mpeg1: true, scr: readTimestamp(b, o + 4), muxRate, length: 12 };
  }
  return `pack header with unknown layout 0x${b4.toString(16)}`;
}

export interface SystemHeader {
  rateBound: number;
  audioBound: number;
  videoBound: number;
  /** stream_id -> P-STD_buffer_size_bound in bytes. */
  streams: Map<number, number>;
}

/** The system header (2.5.3.5) of a complete unit `b[o, o + 6 + header_length)`. */
export function parseSystemHeader(b: Uint8Array, o: number, total: number): SystemHeader | string {
  if (total < 12) return `system header of ${total} bytes`;
  const rateBound = ((b[o + 6]! & 0x7f) << 15) | (b[o + 7]! << 7) | (b[o + 8]! >> 1);
  const audioBound = b[o + 9]! >> 2;
  const videoBound = b[o + 10]! & 0x1f;
  const streams = new Map<number, number>();
  for (let p = o + 12; p + 3 <= o + total; p += 3) {
    const id = b[p]!;
    if ((id & 0x80) === 0) return `system header stream_id 0x${id.toString(16)}`;
    if ((b[p + 1]! & 0xc0) !== 0xc0) return "system header '11' marker missing";
    const scale = (b[p + 1]! & 0x20) ? 1024 : 128;
    streams.set(id, (((b[p + 1]! & 0x1f) << 8) | b[p + 2]!) * scale);
  }
  return { rateBound, audioBound, videoBound, streams };
}

export interface PsmEntry {
  streamType: number;
  elementaryStreamId: number;
}

export interface ProgramStreamMap {
  version: number;
  entries: PsmEntry[];
}

/**
 * The program stream map (2.5.4.1) of a complete unit `b[o, o + total)` (total = 6 + program_stream_map_length,
 * at most 1018 + 6 bytes). The CRC_32 is not checked: GB28181 cameras are known to send PSMs with a wrong or
 * zero CRC, and the structure itself is bounds-checked.
 */
export function parsePsm(b: Uint8Array, o: number, total: number): ProgramStreamMap | string {
  if (total < 16) return `program stream map of ${total} bytes`;
  const version = b[o + 6]! & 0x1f;
  const infoLen = (b[o + 8]! << 8) | b[o + 9]!;
  let p = o + 10 + infoLen;
  if (p + 2 > o + total) return `program_stream_info_length ${infoLen} past the map`;
  const esMapLen = (b[p]! << 8) | b[p + 1]!;
  p += 2;
  const esEnd = p + esMapLen;
  if (esEnd > o + total - 4) return `elementary_stream_map_length ${esMapLen} past the map`;
  const entries: PsmEntry[] = [];
  while (p + 4 <= esEnd) {
    const streamType = b[p]!;
    const elementaryStreamId = b[p + 1]!;
    const esInfoLen = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4 + esInfoLen;
    if (p > esEnd) return `elementary_stream_info_length ${esInfoLen} past the map`;
    entries.push({ streamType, elementaryStreamId });
  }
  return { version, entries };
}

export interface PesHeader {
  /** 90 kHz ticks (33 bits), NaN when absent. */
  pts: number;
  dts: number;
  /** Offset of the first payload byte (absolute in the buffer). */
  payloadStart: number;
}

/** Stream ids whose PES packets carry no optional header (Table 2-22 and 2.4.3.7). */
export function pesHasNoHeader(streamId: number): boolean {
  return streamId === PSM_STREAM_ID || streamId === PADDING_STREAM || streamId === PRIVATE_STREAM_2 || streamId === 0xf0 ||
    streamId === 0xf1 || streamId === 0xf2 || streamId === 0xf8 || streamId === 0xff;
}

/**
 * The header of a PES packet starting at `o` (00 00 01 id len(16)) whose bytes end at `end`.
 *  - MPEG-2 (2.4.3.6): '10' flags, PES_header_data_length, PTS/DTS per PTS_DTS_flags.
 *  - MPEG-1 (ISO/IEC 11172-1 2.4.3.3): up to 16 stuffing 0xFF, optional '01' STD buffer fields, then
 *    '0010' PTS, '0011' PTS+DTS or 0x0F.
 */
export function parsePesHeader(b: Uint8Array, o: number, end: number): PesHeader | string {
  let p = o + 6;
  if (p >= end) return "PES without header bytes";
  if ((b[p]! & 0xc0) === 0x80) {
    if (p + 3 > end) return "PES header cut short";
    const flags = b[p + 1]! >> 6;
    const headerLen = b[p + 2]!;
    const payloadStart = p + 3 + headerLen;
    if (payloadStart > end) return `PES_header_data_length ${headerLen} past the packet`;
    if (flags === 1) return "PES PTS_DTS_flags '01' (forbidden)";
    if ((flags === 2 && headerLen < 5) || (flags === 3 && headerLen < 10)) return `PES_header_data_length ${headerLen} too short for PTS/DTS`;
    let pts = Number.NaN;
    let dts = Number.NaN;
    if (flags & 2) {
      if (!timestampMarkersOk(b, p + 3)) return "PES PTS marker bits not set";
      pts = readTimestamp(b, p + 3);
      dts = pts;
      if (flags === 3) {
        if (!timestampMarkersOk(b, p + 8)) return "PES DTS marker bits not set";
        dts = readTimestamp(b, p + 8);
      }
    }
    return { pts, dts, payloadStart };
  }
  // MPEG-1
  let stuffing = 0;
  while (p < end && b[p] === 0xff) {
    if (++stuffing > 16) return "MPEG-1 PES with more than 16 stuffing bytes";
    p++;
  }
  if (p < end && (b[p]! & 0xc0) === 0x40) p += 2; // STD_buffer_scale/size
  if (p >= end) return "MPEG-1 PES header cut short";
  const t = b[p]! & 0xf0;
  if (t === 0x20) {
    if (p + 5 > end) return "MPEG-1 PES PTS cut short";
    const pts = readTimestamp(b, p);
    return { pts, dts: pts, payloadStart: p + 5 };
  }
  if (t === 0x30) {
    if (p + 10 > end) return "MPEG-1 PES PTS/DTS cut short";
    return { pts: readTimestamp(b, p), dts: readTimestamp(b, p + 5), payloadStart: p + 10 };
  }
  if (b[p] === 0x0f) return { pts: Number.NaN, dts: Number.NaN, payloadStart: p + 1 };
  return `MPEG-1 PES header byte 0x${b[p]!.toString(16)}`;
}
