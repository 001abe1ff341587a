/**
 * RTMP handshake, server and client side.
 *
 * Simple handshake (spec 5.2): C0/S0 = version byte 3; C1/S1 = time(4) zero(4) random(1528); C2/S2 echo S1/C1.
 *
 * Complex ("digest") handshake, as Flash Player, FFmpeg and OBS speak it: C1/S1 = time(4) version(4) and two
 * 764-byte blocks, a key block and a digest block, in one of two layouts:
 *   schema 0: key block at 8, digest block at 772;  schema 1: digest block at 8, key block at 772.
 * In the digest block, the 32-byte digest sits at `(sum of the block's first 4 bytes) % 728 + 4` from the block
 * start. The digest is HMAC-SHA256 over the 1504 other bytes of the packet, keyed with the first 30 bytes of the
 * Flash Player key (C1) or the first 36 bytes of the Flash Media Server key (S1).
 * The answer to a packet whose digest is D is: 1504 random bytes + HMAC-SHA256(HMAC-SHA256(fullKey, D), those
 * 1504 bytes), with fullKey the whole 68-byte FMS key for S2 and the whole 62-byte FP key for C2.
 * A server that finds no valid digest in C1 falls back to the simple handshake; so does a client whose S1 has
 * no valid digest. Neither side insists on the peer's C2/S2 being right (like SRS and FFmpeg's publishers).
 */
import { hmac as hmacOf, randomBytes } from "../../runtime/hash.ts";

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;

const GENUINE_SUFFIX = [
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
  0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
];

function keyOf(text: string): Uint8Array {
  const t = new TextEncoder().encode(text);
  const k = new Uint8Array(t.length + GENUINE_SUFFIX.length);
  k.set(t);
  k.set(GENUINE_SUFFIX, t.length);
  return k;
}

/** "Genuine Adobe Flash Player 001" + 32 constant bytes (62 bytes); C1 digests use the first 30. */
export const FP_KEY: Uint8Array = keyOf("Genuine Adobe Flash Player 001");
/** "Genuine Adobe Flash Media Server 001" + 32 constant bytes (68 bytes); S1 digests use the first 36. */
export const FMS_KEY: Uint8Array = keyOf("Genuine Adobe Flash Media Server 001");
const FP_KEY_C1 = FP_KEY.subarray(0, 30);
const FMS_KEY_S1 = FMS_KEY.subarray(0, 36);

/** The version field we put in S1/C1 of a complex handshake (byte 4 >= 3 makes FFmpeg verify our digests). */
const SERVER_VERSION = [0x04, 0x05, 0x00, 0x01];
const CLIENT_VERSION = [0x0a, 0x00, 0x0c, 0x02];

export type HandshakeSchema = 0 | 1;

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  return hmacOf("sha256", key, ...parts);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Offset of the 32-byte digest inside a 1536-byte C1/S1 for the given schema. */
export function digestOffset(packet: Uint8Array, schema: HandshakeSchema): number {
  const block = schema === 0 ? 772 : 8;
  const sum = packet[block]! + packet[block + 1]! + packet[block + 2]! + packet[block + 3]!;
  return block + 4 + (sum % 728);
}

function packetDigest(packet: Uint8Array, at: number, key: Uint8Array): Uint8Array {
  return hmac(key, packet.subarray(0, at), packet.subarray(at + 32, HANDSHAKE_SIZE));
}

/**
 * Finds the schema whose digest verifies with `key` (schema 1 tried first, FFmpeg's and Flash's usual layout).
 * Returns undefined when neither does, i.e. the peer speaks the simple handshake.
 */
export function findDigest(
  packet: Uint8Array,
  key: Uint8Array,
): { schema: HandshakeSchema; offset: number; digest: Uint8Array } | undefined {
  if (packet.length < HANDSHAKE_SIZE) return undefined;
  for (const schema of [1, 0] as const) {
    const at = digestOffset(packet, schema);
    const want = packetDigest(packet, at, key);
    const got = packet.subarray(at, at + 32);
    if (equal(want, got)) return { schema, offset: at, digest: got.slice() };
  }
  return undefined;
}

/** Validates a C1 (Flash Player key); see findDigest. */
export function validateC1(c1: Uint8Array): { schema: HandshakeSchema; digest: Uint8Array } | undefined {
  return findDigest(c1, FP_KEY_C1);
}
/** Validates an S1 (Flash Media Server key); see findDigest. */
export function validateS1(s1: Uint8Array): { schema: HandshakeSchema; digest: Uint8Array } | undefined {
  return findDigest(s1, FMS_KEY_S1);
}

function nowMs(): number {
  return Date.now() >>> 0;
}

function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** A C1/S1 with an embedded digest: time, version, random blocks, digest for `schema` signed with `key`. */
export function makeDigestPacket(version: number[], schema: HandshakeSchema, key: Uint8Array): Uint8Array {
  const p = new Uint8Array(randomBytes(HANDSHAKE_SIZE));
  writeU32(p, 0, nowMs());
  p.set(version, 4);
  const at = digestOffset(p, schema);
  p.set(packetDigest(p, at, key), at);
  return p;
}

/** The C2/S2 answering a packet whose digest was `peerDigest`, keyed with the full FMS (S2) or FP (C2) key. */
export function makeDigestResponse(peerDigest: Uint8Array, fullKey: Uint8Array): Uint8Array {
  const r = new Uint8Array(randomBytes(HANDSHAKE_SIZE));
  const tmpKey = hmac(fullKey, peerDigest);
  r.set(hmac(tmpKey, r.subarray(0, HANDSHAKE_SIZE - 32)), HANDSHAKE_SIZE - 32);
  return r;
}

/** Checks a C2/S2 produced by makeDigestResponse for our digest `ourDigest`. */
export function verifyDigestResponse(resp: Uint8Array, ourDigest: Uint8Array, fullKey: Uint8Array): boolean {
  const tmpKey = hmac(fullKey, ourDigest);
  return equal(hmac(tmpKey, resp.subarray(0, HANDSHAKE_SIZE - 32)), resp.subarray(HANDSHAKE_SIZE - 32, HANDSHAKE_SIZE));
}

function simplePacket(): Uint8Array {
  const p = new Uint8Array(randomBytes(HANDSHAKE_SIZE));
  writeU32(p, 0, nowMs());
  p[4] = p[5] = p[6] = p[7] = 0;
  return p;
}

/** Echo of a peer's C1/S1 for the simple handshake: same bytes, second field = our read time. */
function echo(peer: Uint8Array): Uint8Array {
  const r = peer.slice(0, HANDSHAKE_SIZE);
  writeU32(r, 4, nowMs());
  return r;
}

export class HandshakeError extends Error {
  override name = "HandshakeError";
}

export interface HandshakeStep {
  /** Bytes to write to the peer now, if any. */
  send?: Uint8Array;
  /** The handshake is complete. */
  done: boolean;
  /** Bytes after the handshake, which belong to the chunk stream (only with done). */
  rest?: Uint8Array;
}

/** Accumulates bytes until `n` are available (copies only when a read spans feeds). */
class Accumulator {
  private buf: Uint8Array = new Uint8Array(0);
  push(b: Uint8Array): void {
    if (this.buf.length === 0) this.buf = b;
    else {
      const nb = new Uint8Array(this.buf.length + b.length);
      nb.set(this.buf);
      nb.set(b, this.buf.length);
      this.buf = nb;
    }
  }
  get length(): number {
    return this.buf.length;
  }
  take(n: number): Uint8Array {
    const r = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return r;
  }
  rest(): Uint8Array | undefined {
    const r = this.buf.length > 0 ? this.buf : undefined;
    this.buf = new Uint8Array(0);
    return r;
  }
}

/**
 * Server side: feed it what the client sends. Answers S0+S1+S2 once C0+C1 arrived, then completes on C2.
 * `complex` tells, after C1, whether the client used the digest handshake (and `schema` which layout).
 */
export class ServerHandshake {
  complex = false;
  schema: HandshakeSchema | undefined;
  /** The client's C0 version byte. */
  clientVersion = -1;
  private acc = new Accumulator();
  private state: "c0c1" | "c2" | "done" = "c0c1";

  feed(bytes: Uint8Array): HandshakeStep {
    if (this.state === "done") return { done: true, rest: bytes.length > 0 ? bytes : undefined };
    this.acc.push(bytes);
    let send: Uint8Array | undefined;
    if (this.state === "c0c1") {
      if (this.acc.length < 1 + HANDSHAKE_SIZE) return { done: false };
      const c0 = this.acc.take(1)[0]!;
      this.clientVersion = c0;
      // Version 3 is plain RTMP; 6 is RTMPE (encrypted), which we don't speak.
      if (c0 === 6 || c0 === 8) throw new HandshakeError(`encrypted RTMP (C0 version ${c0}) is not supported`);
      const c1 = this.acc.take(HANDSHAKE_SIZE);
      send = new Uint8Array(1 + 2 * HANDSHAKE_SIZE);
      send[0] = RTMP_VERSION;
      const found = validateC1(c1);
      if (found) {
        this.complex = true;
        this.schema = found.schema;
        send.set(makeDigestPacket(SERVER_VERSION, found.schema, FMS_KEY_S1), 1);
        send.set(makeDigestResponse(found.digest, FMS_KEY), 1 + HANDSHAKE_SIZE);
      } else {
        send.set(simplePacket(), 1);
        send.set(echo(c1), 1 + HANDSHAKE_SIZE);
      }
      this.state = "c2";
    }
    if (this.state === "c2") {
      if (this.acc.length < HANDSHAKE_SIZE) return { send, done: false };
      this.acc.take(HANDSHAKE_SIZE); // C2: not verified (clients vary; SRS doesn't either)
      this.state = "done";
      return { send, done: true, rest: this.acc.rest() };
    }
    return { send, done: false };
  }
}

export interface ClientHandshakeOptions {
  /** Send a digest C1 (complex handshake, like Flash/FFmpeg) instead of a plain one. Default true. */
  complex?: boolean;
  /** Layout of our C1 when complex (default 1, as FFmpeg). */
  schema?: HandshakeSchema;
}

/**
 * Client side: `start()` gives C0+C1; feed it what the server sends; after S0+S1+S2 it answers C2 and is done.
 * If S1 carries a valid FMS digest the C2 is the digest response, otherwise an echo of S1.
 */
export class ClientHandshake {
  readonly complex: boolean;
  readonly schema: HandshakeSchema;
  /** The server answered with a digest S1. */
  serverComplex = false;
  /** The server's S2 carried a valid digest response to our C1 (complex mode only). */
  serverS2Valid = false;
  private c1: Uint8Array | undefined;
  private c1Digest: Uint8Array | undefined;
  private acc = new Accumulator();
  private state: "start" | "s0s1s2" | "done" = "start";

  constructor(opts: ClientHandshakeOptions = {}) {
    this.complex = opts.complex ?? true;
    this.schema = opts.schema ?? 1;
  }

  /** C0+C1, to send first. */
  start(): Uint8Array {
    if (this.state !== "start") throw new HandshakeError("client handshake already started");
    if (this.complex) {
      this.c1 = makeDigestPacket(CLIENT_VERSION, this.schema, FP_KEY_C1);
      const at = digestOffset(this.c1, this.schema);
      this.c1Digest = this.c1.slice(at, at + 32);
    } else {
      this.c1 = simplePacket();
    }
    const out = new Uint8Array(1 + HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    out.set(this.c1, 1);
    this.state = "s0s1s2";
    return out;
  }

  feed(bytes: Uint8Array): HandshakeStep {
    if (this.state === "done") return { done: true, rest: bytes.length > 0 ? bytes : undefined };
    if (this.state === "start") throw new HandshakeError("client handshake: call start() first");
    this.acc.push(bytes);
    if (this.acc.length < 1 + 2 * HANDSHAKE_SIZE) return { done: false };
    const s0 = this.acc.take(1)[0]!;
    if (s0 !== RTMP_VERSION) throw new HandshakeError(`server answered RTMP version ${s0}, expected 3`);
    const s1 = this.acc.take(HANDSHAKE_SIZE);
    const s2 = this.acc.take(HANDSHAKE_SIZE);
    let c2: Uint8Array;
    const found = this.complex ? validateS1(s1) : undefined;
    if (found) {
      this.serverComplex = true;
      this.serverS2Valid = verifyDigestResponse(s2, this.c1Digest!, FMS_KEY);
      c2 = makeDigestResponse(found.digest, FP_KEY);
    } else {
      c2 = echo(s1);
    }
    this.state = "done";
    return { send: c2, done: true, rest: this.acc.rest() };
  }
}
