/**
 * RTSP 1.0 messages (RFC 2326): requests and responses, and the interleaved binary frames that share the TCP
 * connection with them (RFC 2326 10.12), read from a byte stream and serialized back.
 *
 *  - Request line (6.1): `METHOD Request-URI RTSP/1.0`; status line (7.1): `RTSP/1.0 Status-Code Reason`.
 *  - Headers (4.2 on RFC 2616 4.2): `Name: value`, names case-insensitive, a line starting with a space or tab
 *    continues the previous one. CSeq (12.17) is required in every request and must be a decimal number.
 *  - Body (4.3): framed by Content-Length only (absent: no body).
 *  - Interleaved data (10.12): `$`, a one-byte channel, a two-byte big-endian length, then that many bytes (an
 *    RTP or RTCP packet). Frames and messages may come in any order; a frame can never exceed 65535 bytes.
 *
 * Limits (what a peer declares never sizes a buffer beyond them): start line + headers at most `maxHeaderBytes`
 * (16 KiB), at most `maxHeaders` lines (64), body at most `maxBodyBytes` (64 KiB). Breaking one, or a line that
 * is not RTSP, is an RtspError: the session answers 400 (when it can) and closes.
 */

export class RtspError extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = "RtspError";
  }
}

export interface RtspLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxHeaders: number;
}

export const DEFAULT_RTSP_LIMITS: RtspLimits = { maxHeaderBytes: 16 * 1024, maxBodyBytes: 64 * 1024, maxHeaders: 64 };

/** Ordered, case-insensitive header list. */
export class RtspHeaders {
  private readonly entries: [string, string][] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [n, v] of init) this.add(n, v);
  }

  add(name: string, value: string): this {
    if (/[\r\n]/.test(name + value)) throw new RtspError(`header ${name} with a line break`);
    this.entries.push([name, value]);
    return this;
  }

  set(name: string, value: string): this {
    this.delete(name);
    return this.add(name, value);
  }

  delete(name: string): void {
    const l = name.toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]![0].toLowerCase() === l) this.entries.splice(i, 1);
  }

  get(name: string): string | undefined {
    const l = name.toLowerCase();
    for (const [n, v] of this.entries) if (n.toLowerCase() === l) return v;
    return undefined;
  }

  getAll(name: string): string[] {
    const l = name.toLowerCase();
    return this.entries.filter(([n]) => n.toLowerCase() === l).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries[Symbol.iterator]();
  }
}

export interface RtspRequest {
  type: "request";
  method: string;
  uri: string;
  cseq: number;
  headers: RtspHeaders;
  body: Uint8Array;
}

export interface RtspResponse {
  type: "response";
  status: number;
  reason: string;
  cseq: number | undefined;
  headers: RtspHeaders;
  body: Uint8Array;
}

/** One interleaved frame (RFC 2326 10.12): the view is valid only during the callback. */
export interface InterleavedFrame {
  type: "frame";
  channel: number;
  data: Uint8Array;
}

export type RtspItem = RtspRequest | RtspResponse | InterleavedFrame;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_CSEQ = 0x7fffffff;

/** Reads the CSeq header value (RFC 2326 12.17): a decimal number. */
export function parseCSeq(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (!/^\d{1,10}$/.test(t)) return undefined;
  const n = Number(t);
  return n <= MAX_CSEQ ? n : undefined;
}

/**
 * Incremental reader of an RTSP TCP stream: feed() it bytes as they come, it calls `onItem` for every complete
 * request, response and interleaved frame, in order. Throws RtspError on a broken stream (the reader is then
 * unusable). Leftover bytes are kept in one buffer bounded by the limits.
 */
export class RtspReader {
  private buf: Uint8Array = new Uint8Array(0);
  private failed: RtspError | undefined;

  constructor(private onItem: (item: RtspItem) => void, private limits: RtspLimits = DEFAULT_RTSP_LIMITS) {}

  /** Bytes held waiting for the rest of an item. */
  get pending(): number {
    return this.buf.byteLength;
  }

  feed(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    let data = chunk;
    if (this.buf.byteLength) {
      const b = new Uint8Array(this.buf.byteLength + chunk.byteLength);
      b.set(this.buf);
      b.set(chunk, this.buf.byteLength);
      data = b;
    }
    let off = 0;
    try {
      for (;;) {
        const used = this.next(data, off);
        if (used === 0) break;
        off += used;
      }
    } catch (e) {
      this.buf = new Uint8Array(0);
      this.failed = e instanceof RtspError ? e : new RtspError(`rtsp reader: ${(e as Error).message}`);
      throw this.failed;
    }
    // Keep the tail (a copy when it is a view of the caller's chunk, which it may reuse).
    this.buf = off >= data.byteLength ? new Uint8Array(0) : data === chunk ? data.slice(off) : data.subarray(off);
  }

  /** Parses one item at `off`; returns the bytes it used, 0 when incomplete. */
  private next(d: Uint8Array, off: number): number {
    const n = d.byteLength - off;
    if (n <= 0) return 0;
    if (d[off] === 0x24) {
      if (n < 4) return 0;
      const len = (d[off + 2]! << 8) | d[off + 3]!;
      if (n < 4 + len) return 0;
      this.onItem({ type: "frame", channel: d[off + 1]!, data: d.subarray(off + 4, off + 4 + len) });
      return 4 + len;
    }
    // Some clients send bare CRLFs between messages (keep-alive): skip them.
    if (d[off] === 0x0d || d[off] === 0x0a) {
      let i = off;
      while (i < d.byteLength && (d[i] === 0x0d || d[i] === 0x0a)) i++;
      return i - off;
    }
    const end = findHeaderEnd(d, off, Math.min(d.byteLength, off + this.limits.maxHeaderBytes + 4));
    if (end < 0) {
      if (n > this.limits.maxHeaderBytes) throw new RtspError(`rtsp header over ${this.limits.maxHeaderBytes} bytes`);
      // A start line that cannot be RTSP fails early instead of waiting for 16 KiB of garbage.
      checkStartPrefix(d, off);
      return 0;
    }
    const head = new TextDecoder("latin1").decode(d.subarray(off, end.valueOf()));
    const headEnd = end + (d[end] === 0x0d ? 4 : 2);
    const msg = parseHead(head, this.limits);
    const lenHeader = msg.headers.get("Content-Length");
    let bodyLen = 0;
    if (lenHeader !== undefined) {
      const t = lenHeader.trim();
      if (!/^\d{1,9}$/.test(t)) throw new RtspError(`bad Content-Length ${JSON.stringify(lenHeader.slice(0, 20))}`);
      bodyLen = Number(t);
      if (bodyLen > this.limits.maxBodyBytes) throw new RtspError(`rtsp body of ${bodyLen} bytes over ${this.limits.maxBodyBytes}`, 413);
    }
    if (d.byteLength - headEnd < bodyLen) return 0;
    msg.body = d.slice(headEnd, headEnd + bodyLen);
    this.onItem(msg);
    return headEnd + bodyLen - off;
  }
}

/** Index of the blank line (CRLFCRLF or LFLF) that ends the headers, or -1. */
function findHeaderEnd(d: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to - 1; i++) {
    if (d[i] !== 0x0a && d[i] !== 0x0d) continue;
    if (d[i] === 0x0d && d[i + 1] === 0x0a && d[i + 2] === 0x0d && d[i + 3] === 0x0a && i + 3 < to) return i;
    if (d[i] === 0x0a && d[i + 1] === 0x0a) return i;
  }
  return -1;
}

function checkStartPrefix(d: Uint8Array, off: number): void {
  const max = Math.min(d.byteLength, off + 32);
  for (let i = off; i < max; i++) {
    const c = d[i]!;
    if (c === 0x20 || c === 0x0d || c === 0x0a) return;
    if (c < 0x21 || c > 0x7e) throw new RtspError(`not an RTSP message: byte 0x${c.toString(16)} in the start line`);
  }
}

function parseHead(head: string, limits: RtspLimits): RtspRequest | RtspResponse {
  const lines = head.split(/\r?\n/);
  const start = lines[0]!;
  const headers = new RtspHeaders();
  let count = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    if (line[0] === " " || line[0] === "\t") {
      // folded continuation of the previous header (RFC 2616 2.2)
      const all = [...headers];
      const last = all[all.length - 1];
      if (!last) throw new RtspError("rtsp header continuation without a header");
      headers.set(last[0], `${last[1]} ${line.trim()}`);
      continue;
    }
    const c = line.indexOf(":");
    if (c <= 0) throw new RtspError(`bad rtsp header line ${JSON.stringify(line.slice(0, 40))}`);
    const name = line.slice(0, c).trim();
    if (!TOKEN.test(name)) throw new RtspError(`bad rtsp header name ${JSON.stringify(name.slice(0, 40))}`);
    if (++count > limits.maxHeaders) throw new RtspError(`more than ${limits.maxHeaders} rtsp headers`);
    headers.add(name, line.slice(c + 1).trim());
  }
  const empty = new Uint8Array(0);
  if (start.startsWith("RTSP/")) {
    const m = /^RTSP\/(\d)\.(\d) (\d{3})(?: (.*))?$/.exec(start);
    if (!m) throw new RtspError(`bad rtsp status line ${JSON.stringify(start.slice(0, 60))}`);
    return { type: "response", status: Number(m[3]), reason: m[4] ?? "", cseq: parseCSeq(headers.get("CSeq")), headers, body: empty };
  }
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) RTSP\/(\d)\.(\d)$/.exec(start);
  if (!m) throw new RtspError(`bad rtsp request line ${JSON.stringify(start.slice(0, 60))}`);
  if (m[3] !== "1") throw new RtspError(`rtsp version ${m[3]}.${m[4]} not supported`, 505);
  const cseqHeader = headers.get("CSeq");
  const cseq = parseCSeq(cseqHeader);
  if (cseq === undefined) throw new RtspError(cseqHeader === undefined ? `rtsp ${m[1]} without CSeq` : `bad CSeq ${JSON.stringify(cseqHeader.slice(0, 20))}`);
  return { type: "request", method: m[1]!, uri: m[2]!, cseq, headers, body: empty };
}

/** Reason phrases of the status codes we send (RFC 2326 7.1.1). */
export const RTSP_REASONS: Record<number, string> = {
  200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
  406: "Not Acceptable", 413: "Request Entity Too Large", 415: "Unsupported Media Type", 453: "Not Enough Bandwidth", 454: "Session Not Found",
  455: "Method Not Valid in This State", 459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport",
  500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable", 505: "RTSP Version Not Supported",
};

const enc = new TextEncoder();

function withBody(head: string, headers: RtspHeaders, body: Uint8Array | string | undefined): Uint8Array {
  const b = typeof body === "string" ? enc.encode(body) : body ?? new Uint8Array(0);
  let s = head;
  for (const [n, v] of headers) if (n.toLowerCase() !== "content-length") s += `${n}: ${v}\r\n`;
  if (b.byteLength) s += `Content-Length: ${b.byteLength}\r\n`;
  s += "\r\n";
  const h = enc.encode(s);
  const out = new Uint8Array(h.byteLength + b.byteLength);
  out.set(h);
  out.set(b, h.byteLength);
  return out;
}

/** Serializes a response; CSeq goes first after the status line (as most servers do). */
export function serializeResponse(status: number, cseq: number | undefined, headers: RtspHeaders, body?: Uint8Array | string): Uint8Array {
  const h = new RtspHeaders();
  if (cseq !== undefined) h.add("CSeq", String(cseq));
  for (const [n, v] of headers) if (n.toLowerCase() !== "cseq") h.add(n, v);
  return withBody(`RTSP/1.0 ${status} ${RTSP_REASONS[status] ?? "Unknown"}\r\n`, h, body);
}

export function serializeRequest(method: string, uri: string, cseq: number, headers: RtspHeaders, body?: Uint8Array | string): Uint8Array {
  if (!TOKEN.test(method) || /\s/.test(uri)) throw new RtspError(`bad rtsp request ${method} ${uri}`);
  const h = new RtspHeaders().add("CSeq", String(cseq));
  for (const [n, v] of headers) if (n.toLowerCase() !== "cseq") h.add(n, v);
  return withBody(`${method} ${uri} RTSP/1.0\r\n`, h, body);
}

/** An interleaved frame header + data (RFC 2326 10.12). */
export function interleavedFrame(channel: number, data: Uint8Array): Uint8Array {
  if (data.byteLength > 0xffff) throw new RtspError(`interleaved frame of ${data.byteLength} bytes`);
  const out = new Uint8Array(4 + data.byteLength);
  out[0] = 0x24;
  out[1] = channel & 0xff;
  out[2] = data.byteLength >> 8;
  out[3] = data.byteLength & 0xff;
  out.set(data, 4);
  return out;
}
