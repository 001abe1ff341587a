/**
 * The duration of a finished DVR file, read from a few bytes of it (no full parse):
 *  - FLV (Adobe FLV spec v10.1, annex E): the last tag (found through the trailing PreviousTagSize, E.3) minus the
 *    first audio/video tag's timestamp (E.4.1: 24-bit Timestamp + 8-bit TimestampExtended);
 *  - MP4 (ISO/IEC 14496-12): the movie header's duration / timescale (8.2.2 mvhd, version 0 or 1), the moov found
 *    by walking the top-level box headers (4.2).
 * Returns 0 when the file is not one of these or is cut short (a recording still being written, a crash).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

function readAt(fd: number, pos: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  const n = readSync(fd, b, 0, len, pos);
  return n === len ? b : b.subarray(0, n);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

function flvTagTime(b: Uint8Array, o: number): number {
  return ((b[o + 7]! << 24) >>> 0) + (b[o + 4]! << 16) + (b[o + 5]! << 8) + b[o + 6]!;
}

export function flvDurationMs(fd: number, size: number): number {
  const head = readAt(fd, 0, Math.min(size, 64 * 1024));
  if (head.length < 13 || head[0] !== 0x46 || head[1] !== 0x4c || head[2] !== 0x56) return 0;
  const dataOffset = u32(head, 5);
  // first audio (8) or video (9) tag
  let first: number | undefined;
  for (let o = dataOffset + 4; o + 11 <= head.length;) {
    const type = head[o]! & 0x1f;
    const len = (head[o + 1]! << 16) + (head[o + 2]! << 8) + head[o + 3]!;
    if (type === 8 || type === 9) {
      first = flvTagTime(head, o);
      break;
    }
    o += 11 + len + 4;
  }
  if (first === undefined || size < 15) return 0;
  const prev = u32(readAt(fd, size - 4, 4), 0);
  if (prev < 11 || prev + 4 > size) return 0;
  const tag = readAt(fd, size - 4 - prev, 11);
  if (tag.length < 11) return 0;
  return Math.max(0, flvTagTime(tag, 0) - first);
}

export function mp4DurationMs(fd: number, size: number): number {
  let pos = 0;
  for (let n = 0; pos + 8 <= size && n < 100_000; n++) {
    const h = readAt(fd, pos, 16);
    if (h.length < 8) return 0;
    let boxSize = u32(h, 0);
    const type = String.fromCharCode(h[4]!, h[5]!, h[6]!, h[7]!);
    let header = 8;
    if (boxSize === 1) {
      if (h.length < 16) return 0;
      boxSize = u32(h, 8) * 2 ** 32 + u32(h, 12);
      header = 16;
    } else if (boxSize === 0) {
      boxSize = size - pos;
    }
    if (boxSize < header) return 0;
    if (type === "moov") {
      // mvhd is the moov's first child in every file we write and most others; look among the first few.
      const body = readAt(fd, pos + header, Math.min(boxSize - header, 4096));
      for (let o = 0; o + 8 <= body.length;) {
        const cs = u32(body, o);
        const ct = String.fromCharCode(body[o + 4]!, body[o + 5]!, body[o + 6]!, body[o + 7]!);
        if (ct === "mvhd") {
          const v = body[o + 8]!;
          if (v === 1 && o + 8 + 32 <= body.length) {
            const ts = u32(body, o + 8 + 20);
            const dur = u32(body, o + 8 + 24) * 2 ** 32 + u32(body, o + 8 + 28);
            return ts > 0 ? Math.round((dur * 1000) / ts) : 0;
          }
          if (o + 8 + 20 <= body.length) {
            const ts = u32(body, o + 8 + 12);
            const dur = u32(body, o + 8 + 16);
            return ts > 0 ? Math.round((dur * 1000) / ts) : 0;
          }
          return 0;
        }
        if (cs < 8) break;
        o += cs;
      }
      return 0;
    }
    pos += boxSize;
  }
  return 0;
}

/** The duration in ms of the FLV or MP4 file at `path` (0 when unknown). */
export function recordingDurationMs(path: string, format: "flv" | "mp4"): number {
  let fd = -1;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    return format === "mp4" ? mp4DurationMs(fd, size) : flvDurationMs(fd, size);
  } catch {
    return 0;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
