/**
 * A small RTMP client over a TCP connection (lib/runtime/tcp.ts), for tests and for server-to-server features (forward, edge).
 *
 *   const c = await RtmpClient.connect("rtmp://127.0.0.1/live/stream?token=x", { log });
 *   await c.publish();                        // or: await c.play(); for await (const m of c.messages()) ...
 *   c.sendMedia("video", 0, flvVideoTagBody);
 *   await c.close();
 *
 * It does the handshake (complex by default, falling back to simple), connect (waits for _result), sets the
 * outgoing chunk size (60000 unless told), acknowledges per the server's window, answers pings, and turns
 * onStatus errors of publish/play into rejected promises (RtmpStatusError, with the server's info object).
 *
 * Pulling (an edge): `RtmpClient.connectPlay(url, opts)` connects and plays, following an RTMP 302 redirect (an
 * origin cluster's answer, SRS's SrsRtmpServer::redirect: onStatus NetConnection.Connect.Rejected with
 * ex.code 302 and ex.redirect/ex.redirect2) to the URL it names, at most `maxRedirects` (3) times.
 */
import { connectTcp, type TcpConnection } from "../../runtime/tcp.ts";
import { type Amf0Object, type Amf0Value, isAmf0Object } from "../../formats/amf0.ts";
import type { Log } from "../../log/logger.ts";
import { ChunkReader } from "./chunk-reader.ts";
import { ChunkWriter } from "./chunk-writer.ts";
import { commandMessage, decodeCommand } from "./commands.ts";
import type { RtmpCommand } from "./commands.ts";
import { ClientHandshake } from "./handshake.ts";
import {
  AckWindow,
  CSID_AUDIO,
  CSID_COMMAND,
  CSID_DATA,
  CSID_OVER_CONNECTION2,
  CSID_VIDEO,
  MSG_AGGREGATE,
  MSG_AMF0_COMMAND,
  MSG_AMF0_DATA,
  MSG_AMF3_DATA,
  MSG_AMF3_COMMAND,
  MSG_AUDIO,
  MSG_USER_CONTROL,
  MSG_VIDEO,
  MSG_WINDOW_ACK_SIZE,
  parseUserControl,
  parseWindowAckSize,
  setChunkSizeMessage,
  splitAggregate,
  UC_PING_REQUEST,
  UC_PING_RESPONSE,
  UC_SET_BUFFER_LENGTH,
  userControlMessage,
  windowAckSizeMessage,
} from "./messages.ts";
import type { RtmpMessage } from "./messages.ts";
import { parseRtmpUrl } from "../../net/stream-url.ts";
import type { RtmpRequestUrl } from "../../net/stream-url.ts";

export interface RtmpClientOptions {
  log?: Log;
  /** Outgoing chunk size announced after the handshake (default 60000; 128 keeps the default). */
  chunkSize?: number;
  /** Complex (digest) handshake, default true. */
  complexHandshake?: boolean;
  /** Timeout of the TCP connect, handshake and each awaited command, ms (default 10000). */
  timeoutMs?: number;
  /** Window acknowledgement size we announce (default 2500000). */
  windowAckSize?: number;
  /** Largest incoming message (default 16 MiB). */
  maxMessageLength?: number;
  /** flashVer sent in connect (default "LNX 9,0,124,2", like FFmpeg). */
  flashVer?: string;
  /** Extra connect command object properties. */
  connectProperties?: Amf0Object;
  /**
   * Optional user arguments sent after connect's command object (RTMP 1.0 section 7.2.1.1, "Optional User
   * Arguments"), e.g. SRS's debug_srs_upnode info. A function gets the socket's local address.
   */
  connectArgs?: Amf0Object | ((localAddress: string) => Amf0Object);
}

export class RtmpClientError extends Error {
  override name = "RtmpClientError";
}

/** The server refused with an onStatus/_error: `info` is its info object (code, description, ex...). */
export class RtmpStatusError extends RtmpClientError {
  override name = "RtmpStatusError";
  constructor(message: string, readonly info: Amf0Object) {
    super(message);
  }
}

/** The most RTMP 302 redirects connectPlay follows by default (SRS's edge: 3). */
export const MAX_RTMP_REDIRECTS = 3;

/**
 * Where an RTMP 302 sends the client (ex.redirect2, else ex.redirect + "/" + stream), or undefined when `info`
 * is no redirect. The wire format: SRS srs_protocol_rtmp_stack.cpp SrsRtmpServer::redirect.
 */
export function redirectTarget(info: Amf0Object, streamWithQuery: string): string | undefined {
  const ex = info.ex;
  if (!isAmf0Object(ex)) return undefined;
  if (ex.code !== 302) return undefined;
  if (typeof ex.redirect2 === "string" && /^rtmp:\/\//i.test(ex.redirect2)) return ex.redirect2;
  if (typeof ex.redirect === "string" && /^rtmp:\/\//i.test(ex.redirect)) return `${ex.redirect.replace(/\/+$/, "")}/${streamWithQuery}`;
  return undefined;
}

function asInfo(v: Amf0Value | undefined): Amf0Object | undefined {
  return isAmf0Object(v) ? v : undefined;
}

type Waiter = { resolve: (c: RtmpCommand) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> };

/** Media kinds for sendMedia: FLV tag bodies as RTMP audio (8), video (9) or AMF0 data (18) messages. */
export type MediaKind = "audio" | "video" | "data";

export class RtmpClient {
  readonly url: RtmpRequestUrl & { tcUrl: string; streamWithQuery: string };
  /** The stream id the server gave us by createStream (0 before). */
  streamId = 0;
  /** The server's connect `_result` info object. */
  connectInfo: Amf0Value = null;
  /** Called for every media/data message (after play), and every message when no iterator consumes them. */
  onMessage: ((msg: RtmpMessage) => void) | undefined;
  /** The last RTMP 302 onStatus the server sent (SRS's origin cluster sends it after Play.Start). */
  private redirectInfo: Amf0Object | undefined;
  /** Called for every onStatus the server sends. */
  onStatus: ((info: Amf0Object) => void) | undefined;

  private socket: TcpConnection;
  private log: Log | undefined;
  private opts: RtmpClientOptions;
  private timeoutMs: number;
  private hs: ClientHandshake;
  private reader: ChunkReader;
  private writer = new ChunkWriter();
  private ack = new AckWindow();
  private nextTid = 1;
  private pending = new Map<number, Waiter>();
  private statusWaiters: Array<{ codes: string[]; w: Waiter }> = [];
  private queue: RtmpMessage[] = [];
  private queueWake: (() => void) | undefined;
  private iterating = false;
  private error: Error | undefined;
  private ended = false;
  private hsDone = false;
  private closedPromise: Promise<void>;
  private handshakeDone: Promise<void>;

  private constructor(socket: TcpConnection, url: string, opts: RtmpClientOptions) {
    this.socket = socket;
    this.url = parseRtmpUrl(url);
    this.opts = opts;
    this.log = opts.log;
    this.timeoutMs = opts.timeoutMs ?? 10000;
    this.hs = new ClientHandshake({ complex: opts.complexHandshake ?? true });
    this.reader = new ChunkReader({ maxMessageLength: opts.maxMessageLength });
    let hsResolve!: () => void;
    let hsReject!: (e: Error) => void;
    this.handshakeDone = new Promise((res, rej) => {
      hsResolve = res;
      hsReject = rej;
    });
    this.handshakeDone.catch(() => {});
    this.closedPromise = new Promise((res) => {
      socket.on("close", () => {
        this.ended = true;
        this.fail(this.error ?? new RtmpClientError("connection closed"));
        hsReject(this.error ?? new RtmpClientError("connection closed during handshake"));
        res();
      });
    });
    socket.on("error", (e) => {
      this.error ??= e;
      this.log?.warn(`rtmp client: socket error: ${e.message}`);
    });
    socket.on("data", (data: Uint8Array) => {
      try {
        this.onData(data, hsResolve);
      } catch (e) {
        this.error = e instanceof Error ? e : new Error(String(e));
        this.log?.warn(`rtmp client: ${this.error.message}`);
        hsReject(this.error);
        socket.destroy();
      }
    });
  }

  /** Opens the TCP connection, handshakes and sends connect; resolves once the server accepted it. */
  static async connect(url: string, opts: RtmpClientOptions = {}): Promise<RtmpClient> {
    const parsed = parseRtmpUrl(url);
    const timeoutMs = opts.timeoutMs ?? 10000;
    const host = parsed.host;
    let timedOut = false;
    const connecting = connectTcp({ host, port: parsed.port, noDelay: true });
    const socket = await withTimeout(connecting, timeoutMs, `connect ${host}:${parsed.port}`).catch((e) => {
      timedOut = true;
      throw e;
    });
    // A connection that completes after the timeout is closed at once.
    void connecting.then((late) => timedOut && late.destroy(), () => {});
    const c = new RtmpClient(socket, url, opts);
    try {
      await c.start();
    } catch (e) {
      c.socket.destroy();
      throw e;
    }
    return c;
  }

  /**
   * Connects and plays the stream named by `url`, following RTMP 302 redirects (at most `maxRedirects`);
   * resolves with the client once NetStream.Play.Start came. `onRedirect` hears each hop.
   */
  static async connectPlay(
    url: string,
    opts: RtmpClientOptions & {
      maxRedirects?: number;
      onRedirect?: (to: string) => void;
      /** Set as the client's onMessage before play, so no media is queued (e.g. an edge's pull). */
      onMessage?: (msg: RtmpMessage) => void;
    } = {},
  ): Promise<RtmpClient> {
    const max = opts.maxRedirects ?? MAX_RTMP_REDIRECTS;
    let target = url;
    for (let hop = 0;; hop++) {
      let c: RtmpClient | undefined;
      try {
        c = await RtmpClient.connect(target, opts);
        c.onMessage = opts.onMessage;
        await c.play();
        // SRS's origin cluster sends Play.Start first and its 302 after (SrsRtmpConn::playing asks the coworkers
        // once the play started): the play counts once media flows; a 302 before that is followed.
        const redirect = await c.mediaOrRedirect(Math.min(opts.timeoutMs ?? 5000, 3000), opts.onMessage);
        if (redirect) throw new RtmpStatusError(`302 after NetStream.Play.Start`, redirect);
        return c;
      } catch (e) {
        c?.destroy();
        const next = e instanceof RtmpStatusError ? redirectTarget(e.info, parseRtmpUrl(target).streamWithQuery) : undefined;
        if (next === undefined) throw e;
        if (hop >= max) throw new RtmpClientError(`${target}: too many RTMP redirects (more than ${max}), last to ${next}`);
        opts.log?.trace(`rtmp client: ${target} redirects (302) to ${next}`);
        opts.onRedirect?.(next);
        target = next;
      }
    }
  }

  /**
   * After NetStream.Play.Start: resolves undefined at the first media message (handed on to `onMessage`), at close
   * or after `ms`; resolves the status info when a redirect (302 onStatus) comes first.
   */
  private mediaOrRedirect(ms: number, onMessage?: (msg: RtmpMessage) => void): Promise<Amf0Object | undefined> {
    // The 302 may have come in the same read as Play.Start, before this runs.
    if (this.redirectInfo) return Promise.resolve(this.redirectInfo);
    return new Promise((resolve) => {
      const done = (v: Amf0Object | undefined) => {
        clearTimeout(timer);
        this.onMessage = onMessage;
        this.onStatus = undefined;
        resolve(v);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.onMessage = (m) => {
        done(undefined);
        onMessage?.(m);
      };
      this.onStatus = (info) => {
        if (redirectTarget(info, "") !== undefined) done(info);
      };
      void this.closed.then(() => done(undefined));
    });
  }

  /** Why the connection failed (socket error, protocol error), "" when none. */
  get lastError(): string {
    return this.error?.message ?? "";
  }

  /** The local address of the connection (e.g. the edge's address towards its origin). */
  get localAddress(): string {
    return this.socket.localAddress?.replace(/^::ffff:/, "") ?? "";
  }

  /** The peer's address as ip:port. */
  get remote(): string {
    return `${this.socket.remoteAddress?.replace(/^::ffff:/, "") ?? ""}:${this.socket.remotePort ?? 0}`;
  }

  private async start(): Promise<void> {
    this.socket.write(this.hs.start());
    await withTimeout(this.handshakeDone, this.timeoutMs, "handshake");
    this.log?.trace(
      `rtmp client: handshake done, complex=${this.hs.complex}, server complex=${this.hs.serverComplex}`,
    );
    const chunkSize = this.opts.chunkSize ?? 60000;
    if (chunkSize !== this.writer.chunkSize) this.send(setChunkSizeMessage(chunkSize));
    const props: Amf0Object = {
      app: this.url.app,
      flashVer: this.opts.flashVer ?? "LNX 9,0,124,2",
      tcUrl: this.url.tcUrl,
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
      ...(this.opts.connectProperties ?? {}),
    };
    const a = this.opts.connectArgs;
    const args = typeof a === "function" ? a(this.localAddress) : a;
    const res = await (args ? this.call("connect", props, args) : this.call("connect", props));
    if (res.name !== "_result") {
      const info = asInfo(res.args[0]);
      const msg = `connect rejected: ${describe(res.args[0] ?? null)}`;
      throw info ? new RtmpStatusError(msg, info) : new RtmpClientError(msg);
    }
    this.connectInfo = res.args[0] ?? null;
    this.send(windowAckSizeMessage(this.opts.windowAckSize ?? 2500000));
  }

  /** Sends a command with a fresh transaction id and waits for its _result/_error. */
  call(name: string, commandObject: Amf0Value, ...args: Amf0Value[]): Promise<RtmpCommand> {
    const tid = this.nextTid++;
    const p = new Promise<RtmpCommand>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        reject(new RtmpClientError(`${name}: no response within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(tid, { resolve, reject, timer });
    });
    this.send(commandMessage([name, tid, commandObject, ...args], 0, CSID_COMMAND));
    return p;
  }

  /** Sends a command that expects no _result (transaction 0), e.g. on a NetStream. */
  notify(name: string, streamId: number, ...args: Amf0Value[]): void {
    this.send(commandMessage([name, 0, null, ...args], streamId, streamId === 0 ? CSID_COMMAND : CSID_OVER_CONNECTION2));
  }

  private waitStatus(success: string[]): Promise<RtmpCommand> {
    return new Promise<RtmpCommand>((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.statusWaiters = this.statusWaiters.filter((x) => x.w !== w);
          reject(new RtmpClientError(`no ${success.join("/")} within ${this.timeoutMs} ms`));
        }, this.timeoutMs),
      };
      this.statusWaiters.push({ codes: success, w });
    });
  }

  private async createStream(): Promise<number> {
    const res = await this.call("createStream", null);
    const id = res.args[0];
    if (res.name !== "_result" || typeof id !== "number") {
      throw new RtmpClientError(`createStream failed: ${describe(res.args[0])}`);
    }
    this.streamId = id;
    return id;
  }

  /** releaseStream + FCPublish + createStream + publish; resolves on NetStream.Publish.Start. */
  async publish(streamName: string = this.url.streamWithQuery, type = "live"): Promise<void> {
    this.notifyTx("releaseStream", streamName);
    this.notifyTx("FCPublish", streamName);
    const sid = await this.createStream();
    const started = this.waitStatus(["NetStream.Publish.Start"]);
    this.send(commandMessage(["publish", this.nextTid++, null, streamName, type], sid, CSID_OVER_CONNECTION2));
    await started;
  }

  /** createStream + play (+ SetBufferLength); resolves on NetStream.Play.Start. */
  async play(streamName: string = this.url.streamWithQuery, bufferMs = 1000): Promise<void> {
    const sid = await this.createStream();
    const started = this.waitStatus(["NetStream.Play.Start"]);
    this.send(commandMessage(["play", this.nextTid++, null, streamName, -2], sid, CSID_OVER_CONNECTION2));
    this.send(userControlMessage(UC_SET_BUFFER_LENGTH, sid, bufferMs));
    await started;
  }

  /** A command with a transaction id whose answer we don't wait for. */
  private notifyTx(name: string, ...args: Amf0Value[]): void {
    this.send(commandMessage([name, this.nextTid++, null, ...args], 0, CSID_COMMAND));
  }

  /** Sends a message on the current NetStream (or `streamId`); returns false when the socket buffer is full. */
  sendMessage(type: number, timestamp: number, payload: Uint8Array, streamId = this.streamId, csid?: number): boolean {
    const cs = csid ??
      (type === MSG_AUDIO ? CSID_AUDIO : type === MSG_VIDEO ? CSID_VIDEO : type === MSG_AMF0_DATA ? CSID_DATA : CSID_COMMAND);
    return this.send({ type, timestamp, payload, streamId, csid: cs });
  }

  /** Sends an FLV tag body as an audio, video or AMF0 data message on the NetStream. */
  sendMedia(kind: MediaKind, timestamp: number, payload: Uint8Array): boolean {
    return this.sendMessage(kind === "audio" ? MSG_AUDIO : kind === "video" ? MSG_VIDEO : MSG_AMF0_DATA, timestamp, payload);
  }

  /** Resolves when the socket can take more data. */
  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((res) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        res();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  /** Sends a raw message through the chunk writer. */
  send(msg: RtmpMessage): boolean {
    if (this.ended || this.socket.destroyed) return false;
    return this.socket.write(this.writer.write(msg));
  }

  /** Received media/data messages (audio, video, data; aggregates split), until the connection ends. */
  async *messages(): AsyncGenerator<RtmpMessage> {
    this.iterating = true;
    try {
      for (;;) {
        const m = this.queue.shift();
        if (m !== undefined) {
          yield m;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((res) => (this.queueWake = res));
      }
    } finally {
      this.iterating = false;
    }
  }

  /** Resolves when the connection is closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Sends deleteStream (when a stream exists), ends the connection and waits for it to close. */
  async close(): Promise<void> {
    if (!this.ended && !this.socket.destroyed) {
      if (this.streamId !== 0) this.notify("deleteStream", 0, this.streamId);
      this.socket.end();
      const t = setTimeout(() => this.socket.destroy(), 2000);
      await this.closedPromise;
      clearTimeout(t);
    }
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------------------

  private onData(data: Uint8Array, hsResolve: () => void): void {
    const ackMsg = this.ack.received(data.length);
    if (ackMsg) this.send(ackMsg);
    let bytes: Uint8Array | undefined = data;
    if (!this.hsDone) {
      const step = this.hs.feed(data);
      if (step.send) this.socket.write(step.send);
      if (!step.done) return;
      this.hsDone = true;
      hsResolve();
      bytes = step.rest;
      if (!bytes) return;
    }
    for (const msg of this.reader.feed(bytes)) this.onMessageIn(msg);
  }

  private onMessageIn(msg: RtmpMessage): void {
    switch (msg.type) {
      case MSG_WINDOW_ACK_SIZE:
        this.ack.setWindow(parseWindowAckSize(msg.payload));
        return;
      case MSG_USER_CONTROL: {
        const ev = parseUserControl(msg.payload);
        if (ev.event === UC_PING_REQUEST) {
          this.send(userControlMessage(UC_PING_RESPONSE, ev.value));
        }
        return;
      }
      case MSG_AMF0_COMMAND:
      case MSG_AMF3_COMMAND:
        this.onCommand(decodeCommand(msg.payload, msg.type));
        return;
      case MSG_AGGREGATE:
        for (const m of splitAggregate(msg)) this.deliver(m);
        return;
      case MSG_AUDIO:
      case MSG_VIDEO:
      case MSG_AMF0_DATA:
      case MSG_AMF3_DATA:
        this.deliver(msg);
        return;
      default:
        return; // set chunk size / abort handled by the reader; bandwidth and acks ignored
    }
  }

  private deliver(msg: RtmpMessage): void {
    this.onMessage?.(msg);
    if (this.iterating || this.onMessage === undefined) {
      this.queue.push(msg);
      const w = this.queueWake;
      this.queueWake = undefined;
      w?.();
    }
  }

  private onCommand(cmd: RtmpCommand): void {
    if (cmd.name === "_result" || cmd.name === "_error") {
      const w = this.pending.get(cmd.transactionId);
      if (w) {
        this.pending.delete(cmd.transactionId);
        clearTimeout(w.timer);
        w.resolve(cmd);
      }
      return;
    }
    if (cmd.name === "onStatus") {
      const info = cmd.args[0];
      if (!isAmf0Object(info)) return;
      this.onStatus?.(info);
      if (redirectTarget(info, "") !== undefined) this.redirectInfo = info;
      const code = typeof info.code === "string" ? info.code : "";
      const level = info.level;
      this.log?.trace(`rtmp client: onStatus ${code}`);
      for (const sw of [...this.statusWaiters]) {
        if (sw.codes.includes(code) || level === "error") {
          this.statusWaiters = this.statusWaiters.filter((x) => x !== sw);
          clearTimeout(sw.w.timer);
          if (level === "error") sw.w.reject(new RtmpStatusError(`${code}: ${describe(info.description ?? null)}`, info));
          else sw.w.resolve(cmd);
        }
      }
    }
  }

  private fail(e: Error): void {
    for (const w of this.pending.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.pending.clear();
    for (const sw of this.statusWaiters) {
      clearTimeout(sw.w.timer);
      sw.w.reject(e);
    }
    this.statusWaiters = [];
    const wake = this.queueWake;
    this.queueWake = undefined;
    wake?.();
  }
}

function describe(v: Amf0Value): string {
  if (isAmf0Object(v)) {
    return String(v.description ?? v.code ?? JSON.stringify(v));
  }
  return String(v);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new RtmpClientError(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
