/**
 * AMF0 (Action Message Format, version 0) encoding and decoding, as RTMP commands and FLV script data use it.
 *
 * Values are plain JS values:
 *  - number (0x00), boolean (0x01), string (0x02, or 0x0C long string when longer than 65535 UTF-8 bytes),
 *  - Amf0Object (0x03 anonymous object; 0x10 typed objects decode to plain objects too),
 *  - null (0x05), undefined (0x06),
 *  - ECMA array (0x08): decodes to an object tagged with the non-enumerable `ECMA_ARRAY` symbol so re-encoding
 *    reproduces an ECMA array; build one for encoding with `ecmaArray({...})`,
 *  - strict array (0x0A) <-> JS array, date (0x0B) <-> Date (the time-zone field is written 0, ignored on read),
 *  - XML document (0x0F) decodes to a string.
 * Reference (0x07), movieclip (0x04), recordset (0x0E), unsupported (0x0D) and AMF3 (0x11) values raise
 * `Amf0Error`; so does truncated or too deeply nested input. The decoder never reads out of bounds.
 */

export class Amf0Error extends Error {
  override name = "Amf0Error";
}

export interface Amf0Object {
  [key: string]: Amf0Value;
}
export type Amf0Value = number | boolean | string | null | undefined | Date | Amf0Object | Amf0Value[];

export const AMF0_NUMBER = 0x00;
export const AMF0_BOOLEAN = 0x01;
export const AMF0_STRING = 0x02;
export const AMF0_OBJECT = 0x03;
export const AMF0_MOVIECLIP = 0x04;
export const AMF0_NULL = 0x05;
export const AMF0_UNDEFINED = 0x06;
export const AMF0_REFERENCE = 0x07;
export const AMF0_ECMA_ARRAY = 0x08;
export const AMF0_OBJECT_END = 0x09;
export const AMF0_STRICT_ARRAY = 0x0a;
export const AMF0_DATE = 0x0b;
export const AMF0_LONG_STRING = 0x0c;
export const AMF0_UNSUPPORTED = 0x0d;
export const AMF0_RECORDSET = 0x0e;
export const AMF0_XML_DOCUMENT = 0x0f;
export const AMF0_TYPED_OBJECT = 0x10;
export const AMF0_AVMPLUS_OBJECT = 0x11;

/** Default bound on nesting of objects/arrays while decoding or encoding. */
export const AMF0_MAX_DEPTH = 64;

/** Non-enumerable tag set on objects that were (or should be encoded as) ECMA arrays. */
export const ECMA_ARRAY: unique symbol = Symbol("amf0.ecmaArray");

/** Marks `obj` (in place) to be encoded as an AMF0 ECMA array; returns it. */
export function ecmaArray<T extends Amf0Object>(obj: T): T {
  Object.defineProperty(obj, ECMA_ARRAY, { value: true, enumerable: false, configurable: true });
  return obj;
}

/** True when `v` is an AMF0 object (or ECMA array): not null, an array (strict array) or a Date. */
export function isAmf0Object(v: unknown): v is Amf0Object {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** True when `v` was decoded from, or marked to encode as, an ECMA array. */
export function isEcmaArray(v: unknown): v is Amf0Object {
  return typeof v === "object" && v !== null && (v as { [ECMA_ARRAY]?: boolean })[ECMA_ARRAY] === true;
}

export interface Amf0DecodeOptions {
  /** Maximum nesting depth (default 64). */
  maxDepth?: number;
  /** Tag decoded ECMA arrays with `ECMA_ARRAY` (default true). */
  tagEcmaArrays?: boolean;
}

const utf8 = new TextDecoder("utf-8");
const utf8enc = new TextEncoder();

const MARKER_NAMES: Record<number, string> = {
  [AMF0_MOVIECLIP]: "movieclip",
  [AMF0_REFERENCE]: "reference",
  [AMF0_UNSUPPORTED]: "unsupported",
  [AMF0_RECORDSET]: "recordset",
  [AMF0_AVMPLUS_OBJECT]: "avmplus-object (AMF3 value)",
};

class Decoder {
  private view: DataView;
  constructor(
    private bytes: Uint8Array,
    public pos: number,
    private maxDepth: number,
    private tag: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      throw new Amf0Error(
        `truncated AMF0 ${what}: need ${n} bytes at offset ${this.pos}, have ${this.bytes.length - this.pos}`,
      );
    }
  }

  private u16(): number {
    this.need(2, "u16");
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4, "u32");
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  private f64(): number {
    this.need(8, "number");
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  private str(len: number): string {
    this.need(len, "string");
    const s = len === 0 ? "" : utf8.decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /** Properties until the 00 00 09 end marker. */
  private props(out: Amf0Object, depth: number): Amf0Object {
    for (;;) {
      const klen = this.u16();
      if (klen === 0) {
        this.need(1, "object end");
        if (this.bytes[this.pos] === AMF0_OBJECT_END) {
          this.pos++;
          return out;
        }
      }
      const key = this.str(klen);
      const v = this.value(depth + 1);
      // Keys like "__proto__" must become own data properties, not prototype mutations.
      if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
    }
  }

  value(depth: number): Amf0Value {
    if (depth > this.maxDepth) throw new Amf0Error(`AMF0 nesting deeper than ${this.maxDepth} at offset ${this.pos}`);
    this.need(1, "marker");
    const at = this.pos;
    const marker = this.bytes[this.pos++]!;
    switch (marker) {
      case AMF0_NUMBER:
        return this.f64();
      case AMF0_BOOLEAN:
        this.need(1, "boolean");
        return this.bytes[this.pos++] !== 0;
      case AMF0_STRING:
        return this.str(this.u16());
      case AMF0_LONG_STRING:
      case AMF0_XML_DOCUMENT:
        return this.str(this.u32());
      case AMF0_OBJECT:
        return this.props({}, depth);
      case AMF0_TYPED_OBJECT:
        this.str(this.u16()); // class name, dropped
        return this.props({}, depth);
      case AMF0_NULL:
        return null;
      case AMF0_UNDEFINED:
        return undefined;
      case AMF0_ECMA_ARRAY: {
        this.u32(); // associative count: advisory only, the end marker terminates
        const o = this.props({}, depth);
        return this.tag ? ecmaArray(o) : o;
      }
      case AMF0_STRICT_ARRAY: {
        const n = this.u32();
        // Every element takes at least one byte: reject impossible counts before allocating.
        if (n > this.bytes.length - this.pos) {
          throw new Amf0Error(`truncated AMF0 strict array: ${n} elements declared at offset ${at}`);
        }
        const arr: Amf0Value[] = [];
        for (let i = 0; i < n; i++) arr.push(this.value(depth + 1));
        return arr;
      }
      case AMF0_DATE: {
        const ms = this.f64();
        this.u16(); // time zone, reserved
        return new Date(ms);
      }
      case AMF0_OBJECT_END:
        throw new Amf0Error(`unexpected AMF0 object-end marker at offset ${at}`);
      default: {
        const name = MARKER_NAMES[marker];
        if (name) throw new Amf0Error(`unsupported AMF0 ${name} marker 0x${hex(marker)} at offset ${at}`);
        throw new Amf0Error(`unknown AMF0 marker 0x${hex(marker)} at offset ${at}`);
      }
    }
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Decodes one value at `offset`; returns it with the offset just after it. */
export function decodeAt(
  bytes: Uint8Array,
  offset = 0,
  opts: Amf0DecodeOptions = {},
): { value: Amf0Value; offset: number } {
  const d = new Decoder(bytes, offset, opts.maxDepth ?? AMF0_MAX_DEPTH, opts.tagEcmaArrays ?? true);
  const value = d.value(0);
  return { value, offset: d.pos };
}

/** Decodes one value at `offset` (convenience for `decodeAt(...).value`). */
export function decode(bytes: Uint8Array, offset = 0, opts: Amf0DecodeOptions = {}): Amf0Value {
  return decodeAt(bytes, offset, opts).value;
}

/** Decodes every value from `offset` to the end of `bytes`. */
export function decodeAll(bytes: Uint8Array, offset = 0, opts: Amf0DecodeOptions = {}): Amf0Value[] {
  const d = new Decoder(bytes, offset, opts.maxDepth ?? AMF0_MAX_DEPTH, opts.tagEcmaArrays ?? true);
  const out: Amf0Value[] = [];
  while (d.pos < bytes.length) out.push(d.value(0));
  return out;
}

/**
 * The AMF0 part of an RTMP AMF3 command (message type 17) or AMF3 data (type 15): such payloads start with a
 * 0x00 format byte followed by AMF0 values (values switching to AMF3 via the 0x11 marker raise `Amf0Error`).
 */
export function amf3CommandBody(payload: Uint8Array): Uint8Array {
  if (payload.length > 0 && payload[0] === 0x00) return payload.subarray(1);
  return payload;
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  key(k: string): void {
    const b = utf8enc.encode(k);
    if (b.length > 0xffff) throw new Amf0Error(`AMF0 property name longer than 65535 bytes`);
    this.u16(b.length);
    this.bytes(b);
  }
  props(o: Amf0Object, depth: number): void {
    for (const k of Object.keys(o)) {
      this.key(k);
      this.value(o[k], depth + 1);
    }
    this.u16(0);
    this.u8(AMF0_OBJECT_END);
  }

  value(v: Amf0Value, depth: number): void {
    if (depth > AMF0_MAX_DEPTH) throw new Amf0Error(`AMF0 value nested deeper than ${AMF0_MAX_DEPTH}`);
    if (typeof v === "number") {
      this.u8(AMF0_NUMBER);
      this.f64(v);
    } else if (typeof v === "boolean") {
      this.u8(AMF0_BOOLEAN);
      this.u8(v ? 1 : 0);
    } else if (typeof v === "string") {
      const b = utf8enc.encode(v);
      if (b.length > 0xffff) {
        this.u8(AMF0_LONG_STRING);
        this.u32(b.length);
      } else {
        this.u8(AMF0_STRING);
        this.u16(b.length);
      }
      this.bytes(b);
    } else if (v === null) {
      this.u8(AMF0_NULL);
    } else if (v === undefined) {
      this.u8(AMF0_UNDEFINED);
    } else if (v instanceof Date) {
      this.u8(AMF0_DATE);
      this.f64(v.getTime());
      this.u16(0);
    } else if (Array.isArray(v)) {
      this.u8(AMF0_STRICT_ARRAY);
      this.u32(v.length);
      for (const e of v) this.value(e, depth + 1);
    } else if (typeof v === "object") {
      if (isEcmaArray(v)) {
        this.u8(AMF0_ECMA_ARRAY);
        this.u32(Object.keys(v).length);
      } else {
        this.u8(AMF0_OBJECT);
      }
      this.props(v, depth);
    } else {
      throw new Amf0Error(`cannot encode ${typeof v} as AMF0`);
    }
  }
}

/** Encodes values back to back into one buffer. */
export function encode(...values: Amf0Value[]): Uint8Array {
  const w = new Writer();
  for (const v of values) w.value(v, 0);
  return w.buf.slice(0, w.pos);
}
