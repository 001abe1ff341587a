/**
 * SIP messages (RFC 3261 section 7): requests and responses, parsed from a UDP datagram or from a TCP stream
 * (sip-stream.ts), and serialized back.
 *
 *  - Start line (7.1, 7.2): `METHOD Request-URI SIP/2.0` or `SIP/2.0 Status-Code Reason-Phrase`.
 *  - Headers (7.3): names case-insensitive, kept in order; compact forms (7.3.3: i m e l c f s k t v) are read
 *    as their long names; a line starting with a space or tab continues the previous one (7.3.1). A header may
 *    carry a comma-separated list (7.3.1; several Via in one line): `list()` splits it outside quotes and <>.
 *  - Body (7.4, 7.5, 18.3): Content-Length frames it; on a datagram a missing Content-Length means the rest of
 *    the datagram, on a stream it is an error. Extra datagram bytes past Content-Length are dropped (18.3).
 *  - Required headers (8.1.1): Via, From, To, Call-ID, CSeq; CSeq's method must be the request's (8.1.1.5).
 *
 * Header values (CSeq, SIP URI, name-addr, Via) are read by sip-values.ts.
 *
 * Limits (what a peer declares never sizes a buffer): start line + headers at most `maxHeaderBytes` (16 KiB),
 * body at most `maxBodyBytes` (64 KiB), at most `maxHeaders` header lines (100). Breaking one is a SipError.
 */

import { parseCSeq } from "./sip-values.ts";

export class SipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SipError";
  }
}

export interface SipLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
  maxHeaders: number;
}

export const DEFAULT_SIP_LIMITS: SipLimits = { maxHeaderBytes: 16 * 1024, maxBodyBytes: 64 * 1024, maxHeaders: 100 };

/** Compact header forms (RFC 3261 7.3.3 and 20). */
const COMPACT: Record<string, string> = {
  i: "Call-ID", m: "Contact", e: "Content-Encoding", l: "Content-Length", c: "Content-Type", f: "From", s: "Subject",
  k: "Supported", t: "To", v: "Via",
};

/** Canonical spellings of the headers GB28181 uses (others keep the peer's spelling). */
const CANONICAL = new Map<string, string>([
  "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type", "Max-Forwards", "Expires",
  "Authorization", "WWW-Authenticate", "User-Agent", "Subject", "Date", "Allow", "Supported", "Content-Encoding",
  "Route", "Record-Route", "Event", "Subscription-State",
].map((n) => [n.toLowerCase(), n]));

export function canonicalHeaderName(name: string): string {
  const short = COMPACT[name.toLowerCase()];
  if (short && name.length === 1) return short;
  return CANONICAL.get(name.toLowerCase()) ?? name;
}

/** Ordered, case-insensitive header list. */
export class SipHeaders {
  private readonly entries: { name: string; value: string }[] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [n, v] of init) this.add(n, v);
  }

  /** Appends a header (a compact name is stored as its long form). */
  add(name: string, value: string): this {
    this.entries.push({ name: canonicalHeaderName(name), value });
    return this;
  }

  /** Replaces every header of that name with one. */
  set(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.entries.findIndex((e) => e.name.toLowerCase() === n.toLowerCase());
    this.delete(n);
    if (i < 0) this.entries.push({ name: n, value });
    else this.entries.splice(Math.min(i, this.entries.length), 0, { name: n, value });
    return this;
  }

  delete(name: string): void {
    const n = canonicalHeaderName(name).toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.name.toLowerCase() === n) this.entries.splice(i, 1);
  }

  /** The first value, or undefined. */
  get(name: string): string | undefined {
    const n = canonicalHeaderName(name).toLowerCase();
    return this.entries.find((e) => e.name.toLowerCase() === n)?.value;
  }

  /** Every value of that name, in order (one per header line). */
  getAll(name: string): string[] {
    const n = canonicalHeaderName(name).toLowerCase();
    return this.entries.filter((e) => e.name.toLowerCase() === n).map((e) => e.value);
  }

  /** Every element of that name's comma-separated lists (e.g. each Via), in order. */
  list(name: string): string[] {
    return this.getAll(name).flatMap(splitList);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const e of this.entries) yield [e.name, e.value];
  }

  get size(): number {
    return this.entries.length;
  }
}

/** Splits a header value at commas outside double quotes and angle brackets (RFC 3261 7.3.1). */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let angle = 0;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && quoted) i++;
    else if (c === "\"") quoted = !quoted;
    else if (!quoted && c === "<") angle++;
    else if (!quoted && c === ">") angle = Math.max(0, angle - 1);
    else if (!quoted && angle === 0 && c === ",") {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((x) => x.length > 0);
}

interface SipBase {
  headers: SipHeaders;
  body: Uint8Array;
}

export interface SipRequest extends SipBase {
  type: "request";
  method: string;
  uri: string;
}

export interface SipResponse extends SipBase {
  type: "response";
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** Header text is UTF-8 (RFC 3261 25.1 TEXT-UTF8); invalid bytes become U+FFFD. */
const utf8 = new TextDecoder("utf-8");

/** Index of the blank line ending the header block (CRLF CRLF, or bare LF LF) in b[from..end), or -1. */
export function findHeaderEnd(b: Uint8Array, from: number, end: number): { at: number; length: number } | undefined {
  for (let i = from; i < end; i++) {
    if (b[i] !== 0x0a) continue;
    if (i + 1 < end && b[i + 1] === 0x0a) return { at: i, length: 2 };
    if (i + 2 < end && b[i + 1] === 0x0d && b[i + 2] === 0x0a) return { at: i, length: 3 };
  }
  return undefined;
}

/**
 * Parses the start line and headers of `head` (without the blank line). Throws SipError with what is wrong.
 * The body is attached by the caller.
 */
export function parseSipHead(head: string, limits: SipLimits = DEFAULT_SIP_LIMITS): SipMessage {
  const lines = head.split(/\r?\n/);
  const start = lines[0] ?? "";
  const headers = new SipHeaders();
  let count = 0;
  let pending: { name: string; value: string } | undefined;
  const flush = () => {
    if (pending) headers.add(pending.name, pending.value.trim());
    pending = undefined;
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0) continue;
    if (line[0] === " " || line[0] === "\t") {
      if (!pending) throw new SipError(`SIP: continuation line before any header: ${clip(line)}`);
      pending.value += " " + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(":");
    if (colon <= 0) throw new SipError(`SIP: header line without a name: ${clip(line)}`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new SipError(`SIP: bad header name ${clip(name)}`);
    if (++count > limits.maxHeaders) throw new SipError(`SIP: more than ${limits.maxHeaders} headers`);
    pending = { name, value: line.slice(colon + 1) };
  }
  flush();
  const body = new Uint8Array(0);
  if (start.startsWith("SIP/")) {
    const m = /^SIP\/2\.0 ([1-6]\d\d)(?: (.*))?$/.exec(start);
    if (!m) throw new SipError(`SIP: bad status line ${clip(start)}`);
    return { type: "response", status: Number(m[1]), reason: m[2] ?? "", headers, body };
  }
  const m = /^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP\/2\.0$/.exec(start);
  if (!m) throw new SipError(`SIP: bad request line ${clip(start)}`);
  return { type: "request", method: m[1]!, uri: m[2]!, headers, body };
}

/** Checks the headers every message needs (RFC 3261 8.1.1) and that CSeq matches the method. */
export function validateSip(msg: SipMessage): void {
  for (const name of ["Via", "From", "To", "Call-ID", "CSeq"]) {
    if (!msg.headers.get(name)) throw new SipError(`SIP: ${describe(msg)} without ${name}`);
  }
  const cseq = parseCSeq(msg.headers.get("CSeq")!);
  if (!cseq) throw new SipError(`SIP: ${describe(msg)} bad CSeq ${clip(msg.headers.get("CSeq")!)}`);
  if (msg.type === "request" && cseq.method !== msg.method) {
    throw new SipError(`SIP: ${msg.method} with CSeq method ${cseq.method}`);
  }
}

/** Content-Length as a number; undefined when absent; SipError when malformed or over the limit. */
export function contentLength(msg: SipMessage, limits: SipLimits): number | undefined {
  const v = msg.headers.get("Content-Length");
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v.trim())) throw new SipError(`SIP: ${describe(msg)} bad Content-Length ${clip(v)}`);
  const n = Number(v.trim());
  if (n > limits.maxBodyBytes) throw new SipError(`SIP: ${describe(msg)} body of ${n} bytes over the ${limits.maxBodyBytes}-byte limit`);
  return n;
}

/** Parses one SIP message from a UDP datagram (RFC 3261 18.3). Throws SipError. */
export function parseSipDatagram(d: Uint8Array, limits: SipLimits = DEFAULT_SIP_LIMITS): SipMessage {
  let from = 0;
  while (from < d.length && (d[from] === 0x0d || d[from] === 0x0a)) from++; // keepalive CRLFs (RFC 5626 3.5.1)
  const scanEnd = Math.min(d.length, from + limits.maxHeaderBytes + 3);
  const he = findHeaderEnd(d, from, scanEnd);
  let headEnd: number;
  let bodyStart: number;
  if (he) {
    headEnd = he.at;
    bodyStart = he.at + he.length;
  } else {
    if (d.length - from > limits.maxHeaderBytes) throw new SipError(`SIP: header block over ${limits.maxHeaderBytes} bytes`);
    headEnd = d.length;
    bodyStart = d.length;
  }
  if (headEnd - from > limits.maxHeaderBytes) throw new SipError(`SIP: header block over ${limits.maxHeaderBytes} bytes`);
  const msg = parseSipHead(utf8.decode(d.subarray(from, headEnd)), limits);
  validateSip(msg);
  const cl = contentLength(msg, limits);
  const rest = d.length - bodyStart;
  if (cl === undefined) {
    if (rest > limits.maxBodyBytes) throw new SipError(`SIP: ${describe(msg)} body of ${rest} bytes over the ${limits.maxBodyBytes}-byte limit`);
    msg.body = d.slice(bodyStart);
  } else {
    if (cl > rest) throw new SipError(`SIP: ${describe(msg)} Content-Length ${cl} but ${rest} bytes in the datagram`);
    msg.body = d.slice(bodyStart, bodyStart + cl);
  }
  return msg;
}

/** The wire form of a message; Content-Length is set from the body. */
export function serializeSip(msg: SipMessage): Uint8Array {
  const start = msg.type === "request" ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const lines = [start];
  for (const [n, v] of msg.headers) {
    if (n === "Content-Length") continue;
    if (/[\r\n]/.test(v) || /[\r\n:]/.test(n)) throw new SipError(`SIP: header ${clip(n)} with a line break`);
    lines.push(`${n}: ${v}`);
  }
  lines.push(`Content-Length: ${msg.body.length}`, "", "");
  const head = Buffer.from(lines.join("\r\n"), "utf8");
  const out = new Uint8Array(head.length + msg.body.length);
  out.set(head, 0);
  out.set(msg.body, head.length);
  return out;
}

export function describe(msg: SipMessage): string {
  return msg.type === "request" ? msg.method : `${msg.status} response`;
}

function clip(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}
