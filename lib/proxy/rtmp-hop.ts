/**
 * One RTMP connection of the proxy (to a client, or to an origin): handshake, chunk stream in and out, and the
 * hop-by-hop protocol control (spec 5.4: Set Chunk Size, Abort, Acknowledgement, Window Acknowledgement Size,
 * Set Peer Bandwidth; spec 7.1.7 User Control ping) handled here, never relayed. Other messages go to `onMessage`,
 * or wait in a bounded queue for `expect()` while the proxy is still setting the session up.
 */
import type { Socket } from "node:net";
import { ChunkReader } from "../protocols/rtmp/chunk-reader.ts";
import { ChunkWriter } from "../protocols/rtmp/chunk-writer.ts";
import { ClientHandshake, ServerHandshake } from "../protocols/rtmp/handshake.ts";
import {
  AckWindow, MSG_ABORT, MSG_ACK, MSG_SET_CHUNK_SIZE, MSG_SET_PEER_BANDWIDTH, MSG_USER_CONTROL, MSG_WINDOW_ACK_SIZE,
  parseUserControl, parseWindowAckSize, type RtmpMessage, setChunkSizeMessage, UC_PING_REQUEST, UC_PING_RESPONSE,
  userControlMessage,
} from "../protocols/rtmp/messages.ts";

/** Messages held before the session is relaying (a client that sends media before we answered, at most). */
const MAX_QUEUED = 1024;
/** Our outgoing chunk size (as SRS's 60000: fewer chunk headers for video). */
export const OUT_CHUNK_SIZE = 60000;

export class HopError extends Error {}

export class RtmpHop {
  private hs: ServerHandshake | ClientHandshake;
  private shaken = false;
  private reader = new ChunkReader();
  private writer = new ChunkWriter();
  private ack = new AckWindow();
  private queue: RtmpMessage[] = [];
  private waiter: { pred: (m: RtmpMessage) => boolean; resolve(m: RtmpMessage): void; reject(e: Error): void } | undefined;
  private handshakeWaiter: { resolve(): void; reject(e: Error): void } | undefined;
  private error: Error | undefined;
  /** Set to relay: every non-control message goes here (the queue is flushed into it first). */
  private sink: ((m: RtmpMessage) => void) | undefined;
  bytesIn = 0;
  bytesOut = 0;

  constructor(readonly sock: Socket, readonly role: "server" | "client", readonly name: string) {
    this.hs = role === "server" ? new ServerHandshake() : new ClientHandshake({ complex: false });
    sock.on("data", (d: Buffer) => this.feed(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    sock.on("error", (e) => this.fail(new HopError(`${name}: ${e.message}`)));
    sock.on("close", () => this.fail(new HopError(`${name}: connection closed`)));
    if (role === "client") this.writeRaw((this.hs as ClientHandshake).start());
  }

  /** Resolves when the handshake is done; a peer silent for `timeoutMs` is dropped (the socket closed). */
  handshake(timeoutMs: number): Promise<void> {
    if (this.shaken) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => this.fail(new HopError(`${this.name}: no handshake within ${timeoutMs}ms`)), timeoutMs);
      this.handshakeWaiter = {
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
    });
  }

  get failed(): Error | undefined {
    return this.error;
  }

  private writeRaw(b: Uint8Array): boolean {
    if (this.sock.destroyed) return false;
    this.bytesOut += b.length;
    return this.sock.write(b);
  }

  /** Sends a message; false when the socket's buffer is full (wait for "drain"). */
  send(m: RtmpMessage): boolean {
    return this.writeRaw(this.writer.write(m));
  }

  /** Starts relaying: queued and future messages go to `sink`. */
  relayTo(sink: (m: RtmpMessage) => void): void {
    this.sink = sink;
    const q = this.queue;
    this.queue = [];
    for (const m of q) sink(m);
  }

  /** The next message matching `pred` (others before it are dropped), within `timeoutMs`. */
  expect(pred: (m: RtmpMessage) => boolean, timeoutMs: number, what: string): Promise<RtmpMessage> {
    if (this.error) return Promise.reject(this.error);
    while (this.queue.length) {
      const m = this.queue.shift()!;
      if (pred(m)) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new HopError(`${this.name}: no ${what} within ${timeoutMs}ms`));
      }, timeoutMs);
      this.waiter = {
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private fail(e: Error): void {
    if (this.error) return;
    this.error = e;
    this.handshakeWaiter?.reject(e);
    this.handshakeWaiter = undefined;
    this.waiter?.reject(e);
    this.waiter = undefined;
    this.sock.destroy();
  }

  private feed(b: Uint8Array): void {
    if (this.error) return;
    this.bytesIn += b.length;
    try {
      let bytes: Uint8Array | undefined = b;
      if (!this.shaken) {
        const step = this.hs.feed(b);
        if (step.send) this.writeRaw(step.send);
        if (!step.done) return;
        this.shaken = true;
        this.send(setChunkSizeMessage(OUT_CHUNK_SIZE));
        this.handshakeWaiter?.resolve();
        this.handshakeWaiter = undefined;
        bytes = step.rest;
        if (!bytes) return;
      }
      const msgs = this.reader.feed(bytes);
      const ack = this.ack.received(bytes.length);
      if (ack) this.send(ack);
      for (const m of msgs) this.onMessage(m);
    } catch (e) {
      this.fail(new HopError(`${this.name}: ${(e as Error).message}`));
    }
  }

  private onMessage(m: RtmpMessage): void {
    switch (m.type) {
      case MSG_SET_CHUNK_SIZE:
      case MSG_ABORT:
      case MSG_ACK:
      case MSG_SET_PEER_BANDWIDTH:
        return;
      case MSG_WINDOW_ACK_SIZE:
        this.ack.setWindow(parseWindowAckSize(m.payload));
        return;
      case MSG_USER_CONTROL: {
        const ev = parseUserControl(m.payload);
        if (ev.event === UC_PING_REQUEST) {
          this.send(userControlMessage(UC_PING_RESPONSE, ev.value));
          return;
        }
        if (ev.event === UC_PING_RESPONSE) return;
        break;
      }
    }
    if (this.sink) {
      this.sink(m);
      return;
    }
    if (this.waiter && this.waiter.pred(m)) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(m);
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.fail(new HopError(`${this.name}: more than ${MAX_QUEUED} messages before the session started`));
      return;
    }
    this.queue.push(m);
  }
}
