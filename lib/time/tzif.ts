/**
 * TZif files (the compiled tz database under /usr/share/zoneinfo), RFC 8536.
 *
 * §3.1 header: "TZif", version, 15 unused bytes, six 32-bit big-endian counts (isutcnt, isstdcnt, leapcnt,
 * timecnt, typecnt, charcnt). §3.2 data block: transition times (4 bytes in v1, 8 in v2+), transition type
 * indices, ttinfo records (int32 utoff, uint8 isdst, uint8 desigidx), designations, leap-second records,
 * standard/wall and UT/local indicators. §3.3 footer (v2+): a POSIX TZ string between two newlines, giving local
 * time after the last transition (slim files carry few transitions and rely on it).
 *
 * v2+ files are read from their second, 64-bit header and data block (§4: v1 readers only). Every count is checked
 * against the file length before anything is read, so a file declaring huge counts costs nothing; a corrupt file
 * throws an Error saying what is wrong, for the caller to fall back on.
 *
 * Files with leap-second records (the "right/" zones) are refused: their times are not POSIX times.
 */
import { type PosixTz, type ZoneInterval, parsePosixTz, posixInterval } from "./posix-tz.ts";

export interface TzifZone {
  /** Transition instants, UTC seconds, strictly ascending. */
  times: Float64Array;
  /** The local-time type index in force from each transition on. */
  typeOf: Uint8Array;
  /** Per local-time type: UT offset (seconds east) and DST flag. */
  offsets: Int32Array;
  isDst: Uint8Array;
  /** §3.3 footer rule for instants after the last transition; undefined when absent or empty. */
  footer?: PosixTz;
}

const HEADER_LENGTH = 44;

interface Header {
  version: number;
  isutcnt: number;
  isstdcnt: number;
  leapcnt: number;
  timecnt: number;
  typecnt: number;
  charcnt: number;
}

function readHeader(v: DataView, at: number): Header {
  if (at + HEADER_LENGTH > v.byteLength) throw new Error(`TZif header at byte ${at}: file ends at ${v.byteLength}`);
  if (v.getUint32(at) !== 0x545a6966) throw new Error(`TZif header at byte ${at}: no "TZif" magic`);
  const h: Header = {
    version: v.getUint8(at + 4),
    isutcnt: v.getUint32(at + 20),
    isstdcnt: v.getUint32(at + 24),
    leapcnt: v.getUint32(at + 28),
    timecnt: v.getUint32(at + 32),
    typecnt: v.getUint32(at + 36),
    charcnt: v.getUint32(at + 40),
  };
  // §3.1: typecnt and charcnt are never zero; isutcnt and isstdcnt are zero or typecnt; type indices fit a byte.
  if (h.typecnt === 0 || h.typecnt > 256) throw new Error(`TZif header at byte ${at}: typecnt ${h.typecnt}`);
  if (h.charcnt === 0) throw new Error(`TZif header at byte ${at}: charcnt 0`);
  if (h.isutcnt !== 0 && h.isutcnt !== h.typecnt) throw new Error(`TZif header at byte ${at}: isutcnt ${h.isutcnt} with typecnt ${h.typecnt}`);
  if (h.isstdcnt !== 0 && h.isstdcnt !== h.typecnt) throw new Error(`TZif header at byte ${at}: isstdcnt ${h.isstdcnt} with typecnt ${h.typecnt}`);
  return h;
}

/** §3.2: the data block's length for 4- (v1) or 8-byte (v2+) times. */
function blockLength(h: Header, timeSize: number): number {
  return h.timecnt * timeSize + h.timecnt + h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt;
}

/** Parses a TZif file; throws an Error naming the fault when the file is not a valid one. */
export function parseTzif(bytes: Uint8Array): TzifZone {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let h = readHeader(v, 0);
  let at = HEADER_LENGTH;
  let timeSize = 4;
  const v1Length = blockLength(h, 4);
  if (at + v1Length > bytes.length) throw new Error(`TZif v1 data block: ${v1Length} bytes declared, ${bytes.length - at} present`);
  if (h.version >= 0x32) {
    at += v1Length;
    h = readHeader(v, at);
    at += HEADER_LENGTH;
    timeSize = 8;
  }
  const length = blockLength(h, timeSize);
  if (at + length > bytes.length) throw new Error(`TZif data block: ${length} bytes declared, ${bytes.length - at} present`);
  if (h.leapcnt !== 0) throw new Error(`TZif file has ${h.leapcnt} leap-second records (a "right/" zone): not supported`);

  const times = new Float64Array(h.timecnt);
  for (let i = 0; i < h.timecnt; i++) {
    // A 64-bit time as high word * 2^32 + low word: exact below 2^53, and no BigInt needed.
    const t = timeSize === 8 ? v.getInt32(at + i * 8) * 0x1_0000_0000 + v.getUint32(at + i * 8 + 4) : v.getInt32(at + i * 4);
    if (i > 0 && t <= times[i - 1]!) throw new Error(`TZif transition ${i}: time ${t} not after ${times[i - 1]}`);
    times[i] = t;
  }
  at += h.timecnt * timeSize;
  const typeOf = bytes.slice(at, at + h.timecnt);
  for (let i = 0; i < typeOf.length; i++) {
    if (typeOf[i]! >= h.typecnt) throw new Error(`TZif transition ${i}: type ${typeOf[i]} of ${h.typecnt}`);
  }
  at += h.timecnt;
  const offsets = new Int32Array(h.typecnt);
  const isDst = new Uint8Array(h.typecnt);
  for (let i = 0; i < h.typecnt; i++) {
    const utoff = v.getInt32(at + i * 6);
    const dst = v.getUint8(at + i * 6 + 4);
    const desig = v.getUint8(at + i * 6 + 5);
    // §3.2: utoff "SHOULD range from -89999 to 93599" (-2**31 is invalid), isdst is 0 or 1, desigidx < charcnt.
    if (utoff < -89999 || utoff > 93599) throw new Error(`TZif type ${i}: utoff ${utoff} out of range`);
    if (dst > 1) throw new Error(`TZif type ${i}: isdst ${dst}`);
    if (desig >= h.charcnt) throw new Error(`TZif type ${i}: desigidx ${desig} of ${h.charcnt}`);
    offsets[i] = utoff;
    isDst[i] = dst;
  }
  at += h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt;

  const zone: TzifZone = { times, typeOf, offsets, isDst };
  if (timeSize === 8) {
    // §3.3: NL, the TZ string (maybe empty), NL.
    if (bytes[at] !== 0x0a) throw new Error(`TZif footer at byte ${at}: no opening newline`);
    const end = bytes.indexOf(0x0a, at + 1);
    if (end < 0) throw new Error(`TZif footer at byte ${at}: no closing newline`);
    if (end - at - 1 > 256) throw new Error(`TZif footer at byte ${at}: ${end - at - 1} bytes, too long for a TZ string`);
    let text = ""; // ASCII by §3.3; any other byte fails the TZ string parse below
    for (let k = at + 1; k < end; k++) text += String.fromCharCode(bytes[k]!);
    if (text !== "") {
      const rule = parsePosixTz(text);
      if (!rule) throw new Error(`TZif footer: "${text.slice(0, 64)}" is not a POSIX TZ string`);
      zone.footer = rule;
    }
  }
  return zone;
}

/** Index of the last transition at or before `t`, or -1. */
function transitionAt(times: Float64Array, t: number): number {
  let lo = 0, hi = times.length; // first index with times[i] > t lies in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/**
 * The interval of UTC second `t` in `z`, written into `out`. Before the first transition (or with none) the first
 * standard-time type applies, as glibc's localtime (RFC 8536 §3.2 names type 0, which is that type in every
 * tzdata file); after the last one the footer rule, else the last transition's type.
 */
export function tzifInterval(z: TzifZone, t: number, out: ZoneInterval): void {
  const n = z.times.length;
  const i = transitionAt(z.times, t);
  if (i < 0) {
    let type = 0;
    while (type < z.isDst.length && z.isDst[type]) type++;
    if (type === z.isDst.length) type = 0;
    out.lo = -Infinity;
    out.hi = n > 0 ? z.times[0]! : Infinity;
    out.offset = z.offsets[type]!;
    out.isDst = z.isDst[type] === 1;
    return;
  }
  if (i === n - 1 && z.footer) {
    posixInterval(z.footer, t, out);
    if (out.lo < z.times[i]!) out.lo = z.times[i]!;
    return;
  }
  const type = z.typeOf[i]!;
  out.lo = z.times[i]!;
  out.hi = i + 1 < n ? z.times[i + 1]! : Infinity;
  out.offset = z.offsets[type]!;
  out.isDst = z.isDst[type] === 1;
}
