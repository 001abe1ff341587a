/**
 * A small Redis client speaking RESP2 (https://redis.io/docs/latest/develop/reference/protocol-spec/): commands
 * as arrays of bulk strings, replies as simple strings (+), errors (-), integers (:), bulk strings ($, -1 = nil)
 * and arrays (*). Only what the proxy's load balancer needs: GET, SET [PX], AUTH, SELECT, PING.
 *
 * Why not an npm client: the proxy needs five commands; a dependency would have to be proven under Bun, Deno and
 * `bun build --compile` alike, and its reconnect/offline queue replaced anyway (see below).
 *
 * Failure behaviour, made for a proxy that must keep routing while Redis is down: a command waits at most
 * `timeoutMs`; a lost connection rejects what is pending and is re-opened by the next command, at most once per
 * `retryMs` (commands in between fail at once, they never queue up).
 */
import { connect, type Socket } from "node:net";

export class RedisError extends Error {}

export type RespValue = string | number | null | RespValue[];

export interface RedisOptions {
  host: string;
  port: number;
  password?: string;
  db?: number;
  timeoutMs?: number;
  retryMs?: number;
}

/** Largest reply accepted (a value in the proxy's keys is a few hundred bytes). */
const MAX_REPLY = 8 * 1024 * 1024;

/** Encodes one command (RESP2: an array of bulk strings). */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, "utf8");
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply at `at`: [value, next offset], or undefined when more bytes are needed. An error reply is
 * returned as a RedisError value.
 */
export function parseReply(buf: Buffer, at = 0): [RespValue | RedisError, number] | undefined {
  if (at >= buf.length) return undefined;
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString("utf8", at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return [line, next];
    case "-":
      return [new RedisError(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (!Number.isInteger(n) || n > MAX_REPLY) throw new RedisError(`bad bulk length ${line}`);
      if (buf.length < next + n + 2) return undefined;
      return [buf.toString("utf8", next, next + n), next + n + 2];
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (!Number.isInteger(n) || n > 1_000_000) throw new RedisError(`bad array length ${line}`);
      const out: RespValue[] = [];
      let o = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, o);
        if (!r) return undefined;
        if (r[0] instanceof RedisError) throw r[0];
        out.push(r[0]);
        o = r[1];
      }
      return [out, o];
    }
    default:
      throw new RedisError(`bad reply type ${JSON.stringify(type)}`);
  }
}

interface Pending {
  resolve(v: RespValue): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class RedisClient {
  private sock: Socket | undefined;
  private ready: Promise<void> | undefined;
  private pending: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private lastFailure = 0;
  private closed = false;
  /** Called when the connection state changes (up: true after a successful (re)connect). */
  onState: (up: boolean, why: string) => void = () => {};

  constructor(readonly o: RedisOptions) {}

  get address(): string {
    return `${this.o.host}:${this.o.port}/${this.o.db ?? 0}`;
  }

  async command(args: readonly string[]): Promise<RespValue> {
    await this.connection();
    return this.send(args);
  }

  async get(key: string): Promise<string | null> {
    const v = await this.command(["GET", key]);
    return typeof v === "string" ? v : null;
  }

  /** SET key value [PX ttl]. */
  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.command(ttlMs ? ["SET", key, value, "PX", String(Math.round(ttlMs))] : ["SET", key, value]);
  }

  close(): void {
    this.closed = true;
    this.fail(new RedisError("redis client closed"));
  }

  private connection(): Promise<void> {
    if (this.closed) return Promise.reject(new RedisError("redis client closed"));
    if (this.ready) return this.ready;
    const retry = this.o.retryMs ?? 1000;
    if (Date.now() - this.lastFailure < retry) {
      return Promise.reject(new RedisError(`redis ${this.address} is down (next try within ${retry}ms)`));
    }
    this.ready = new Promise<void>((resolve, reject) => {
      const sock = connect({ host: this.o.host, port: this.o.port });
      sock.setNoDelay(true);
      this.sock = sock;
      const t = setTimeout(() => sock.destroy(new RedisError(`connect to redis ${this.address} timed out`)), this.o.timeoutMs ?? 2000);
      sock.on("data", (d: Buffer) => this.onData(d));
      sock.on("error", (e) => {
        clearTimeout(t);
        reject(new RedisError(`redis ${this.address}: ${e.message}`));
        this.fail(new RedisError(`redis ${this.address}: ${e.message}`));
      });
      sock.on("close", () => {
        clearTimeout(t);
        reject(new RedisError(`redis ${this.address}: connection closed`));
        this.fail(new RedisError(`redis ${this.address}: connection closed`));
      });
      sock.on("connect", () => {
        clearTimeout(t);
        void (async () => {
          try {
            if (this.o.password) await this.send(["AUTH", this.o.password]);
            if (this.o.db) await this.send(["SELECT", String(this.o.db)]);
            await this.send(["PING"]);
            this.onState(true, "connected");
            resolve();
          } catch (e) {
            reject(e as Error);
            sock.destroy();
          }
        })();
      });
    });
    this.ready.catch(() => {});
    return this.ready;
  }

  private send(args: readonly string[]): Promise<RespValue> {
    const sock = this.sock;
    if (!sock || sock.destroyed) return Promise.reject(new RedisError(`redis ${this.address}: not connected`));
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.destroy(new RedisError(`redis ${this.address}: ${args[0]} timed out`));
      }, this.o.timeoutMs ?? 2000);
      this.pending.push({ resolve, reject, timer });
      sock.write(encodeCommand(args));
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (this.buf.length > MAX_REPLY) {
      this.sock?.destroy(new RedisError(`redis ${this.address}: reply larger than ${MAX_REPLY} bytes`));
      return;
    }
    let at = 0;
    for (;;) {
      let r: [RespValue | RedisError, number] | undefined;
      try {
        r = parseReply(this.buf, at);
      } catch (e) {
        this.sock?.destroy(e as Error);
        return;
      }
      if (!r) break;
      at = r[1];
      const p = this.pending.shift();
      if (!p) continue;
      clearTimeout(p.timer);
      if (r[0] instanceof RedisError) p.reject(r[0]);
      else p.resolve(r[0]);
    }
    this.buf = at >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }

  /** The connection is gone: reject what waits, re-open on the next command (after retryMs). */
  private fail(e: Error): void {
    const wasUp = this.ready !== undefined;
    this.ready = undefined;
    this.sock?.destroy();
    this.sock = undefined;
    this.buf = Buffer.alloc(0);
    if (!this.closed) this.lastFailure = Date.now();
    const p = this.pending;
    this.pending = [];
    for (const x of p) {
      clearTimeout(x.timer);
      x.reject(e);
    }
    if (wasUp && !this.closed) this.onState(false, e.message);
  }
}
