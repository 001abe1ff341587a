/**
 * SIP over a byte stream (RFC 3261 18.3, 7.5): messages are cut at the blank line ending the headers, then
 * Content-Length bytes of body, which every message on a stream must declare. Any chunking: several messages in
 * one chunk, one message over many chunks. CRLFs between messages (RFC 5626 3.5.1 keepalive pings) are skipped.
 *
 * A SipError from push() means the stream cannot be framed any more (no Content-Length, headers or body over
 * the limits, an unparsable start line): the caller logs it and closes the connection. The parser then holds
 * nothing and refuses more input. It never holds more than maxHeaderBytes + maxBodyBytes + one chunk.
 */
import {
  contentLength, DEFAULT_SIP_LIMITS, describe, findHeaderEnd, parseSipHead, SipError, type SipLimits, type SipMessage,
  validateSip,
} from "./sip-message.ts";

const utf8 = new TextDecoder("utf-8");

export class SipStreamParser {
  private buf = new Uint8Array(0);
  private len = 0;
  /** Where the header-end scan resumes. */
  private scanned = 0;
  /** The message whose body is awaited, and its body length. */
  private head: { msg: SipMessage; bodyLength: number } | undefined;
  private failed: SipError | undefined;

  constructor(private readonly limits: SipLimits = DEFAULT_SIP_LIMITS) {}

  /** Bytes held for an unfinished message. */
  get buffered(): number {
    return this.len;
  }

  /** Feeds bytes; returns the messages they complete, in order. Throws SipError (then the stream is done). */
  push(chunk: Uint8Array): SipMessage[] {
    if (this.failed) throw this.failed;
    try {
      this.append(chunk);
      return this.drain();
    } catch (e) {
      this.failed = e instanceof SipError ? e : new SipError(`SIP: ${(e as Error).message}`);
      this.buf = new Uint8Array(0);
      this.len = 0;
      this.head = undefined;
      throw this.failed;
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const nb = new Uint8Array(Math.max(this.len + chunk.length, this.buf.length * 2, 4096));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  private drain(): SipMessage[] {
    const out: SipMessage[] = [];
    let off = 0;
    const b = this.buf;
    while (off < this.len) {
      if (!this.head) {
        if (this.scanned === 0) {
          while (off < this.len && (b[off] === 0x0d || b[off] === 0x0a)) off++; // keepalive CRLFs
          if (off === this.len) break;
        }
        const from = off + Math.max(0, this.scanned - 3);
        const limit = Math.min(this.len, off + this.limits.maxHeaderBytes + 3);
        const he = findHeaderEnd(b, from, limit);
        if (!he) {
          if (this.len - off > this.limits.maxHeaderBytes) throw new SipError(`SIP: header block over ${this.limits.maxHeaderBytes} bytes`);
          this.scanned = this.len - off;
          break;
        }
        this.scanned = 0;
        const msg = parseSipHead(utf8.decode(b.subarray(off, he.at)), this.limits);
        validateSip(msg);
        const cl = contentLength(msg, this.limits);
        if (cl === undefined) throw new SipError(`SIP: ${describe(msg)} without Content-Length on a stream (RFC 3261 18.3)`);
        this.head = { msg, bodyLength: cl };
        off = he.at + he.length;
      }
      const { msg, bodyLength } = this.head;
      if (this.len - off < bodyLength) break;
      msg.body = b.slice(off, off + bodyLength);
      off += bodyLength;
      this.head = undefined;
      out.push(msg);
    }
    // keep the unconsumed tail at the start of the buffer
    if (off > 0) {
      b.copyWithin(0, off, this.len);
      this.len -= off;
    }
    if (this.buf.length > 65536 && this.len < 16384) this.buf = this.buf.slice(0, Math.max(4096, this.len));
    return out;
  }
}
