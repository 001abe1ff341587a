/**
 * One forward: relays a hub's packets to one RTMP URL through an Upstream (our RtmpClient), as SRS's SrsForwarder.
 *
 * The publisher never waits for the destination: onPacket only queues. The queue is bounded in bytes; when a
 * slow destination lets it overflow, everything queued is dropped and sending resumes at the next video
 * keyframe (sequence headers are re-sent from the hub's copies, so the destination can decode). While not
 * connected nothing is queued at all.
 *
 * A destination that refuses (connect error, publish rejected), hangs (no answer within the client's
 * timeout, or a socket that does not drain for STALL_MS) or drops the connection is retried with exponential
 * back-off, 1 s doubling to 30 s, reset after a publish succeeds. Each (re)connect starts with the metadata and
 * sequence headers, then waits for a keyframe. stop() (unpublish) ends everything.
 */
import type { Lease } from "../../hub/lease.ts";
import type { HubSubscriber, StreamHub } from "../../hub/stream-hub.ts";
import type { Log } from "../../log/logger.ts";
import { flvPlayersDecode, packetToFlvBody } from "../../media/flv-codec.ts";
import type { MediaPacket } from "../../media/packet.ts";
import type { Upstream, UpstreamConnector } from "../push-upstream.ts";
import { Waker } from "../waker.ts";

export type { Upstream, UpstreamConnector } from "../push-upstream.ts";

export interface ForwarderOptions {
  /** Queue bound in bytes (default: 5 s of the stream's rate, at least 4 MiB). */
  maxQueueBytes?: number;
  /** First and largest reconnect delay, ms (1000, 30000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Connect/handshake/command timeout, ms (5000). */
  connectTimeoutMs?: number;
  /** A socket that does not drain for this long is a hung destination, ms (10000). */
  stallMs?: number;
}

const MIN_QUEUE = 4 * 1024 * 1024;

export class Forwarder implements HubSubscriber {
  /** This subscriber's place on the hub (hub.subscribe), given back when it stops. */
  private subscription: Lease | undefined;
  private queue: MediaPacket[] = [];
  private queued = 0;
  private waitKeyframe = true;
  private connected = false;
  private stopped = false;
  private readonly waker = new Waker();
  private client: Upstream | undefined;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  private readonly connectTimeout: number;
  private readonly stallMs: number;
  private lastDropLog = 0;
  private running: Promise<void> | undefined;
  /** Statistics. */
  sentPackets = 0;
  sentBytes = 0;
  droppedPackets = 0;
  connects = 0;
  failures = 0;
  lastError = "";
  /** The last few failures, oldest first (bounded). */
  recentErrors: string[] = [];

  constructor(
    readonly hub: StreamHub,
    readonly url: string,
    private connect: UpstreamConnector,
    private log: Log,
    private opts: ForwarderOptions = {},
  ) {
    this.minBackoff = opts.minBackoffMs ?? 1000;
    this.maxBackoff = opts.maxBackoffMs ?? 30000;
    this.connectTimeout = opts.connectTimeoutMs ?? 5000;
    this.stallMs = opts.stallMs ?? 10000;
  }

  get queuedBytes(): number {
    return this.queued;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.log.trace(`forward: ${this.hub.name} -> ${this.url}`);
    this.subscription?.dispose();
    this.subscription = this.hub.subscribe(this, false);
    this.running = this.run();
  }

  private get maxQueue(): number {
    return this.opts.maxQueueBytes ?? Math.max(MIN_QUEUE, this.hub.byteRate * 5);
  }

  onPacket(p: MediaPacket): void {
    // As RTMP players: no Opus (the destination gets the audio bridge's AAC of an Opus publisher).
    if (this.stopped || !this.connected || !flvPlayersDecode(p)) return;
    if (!p.config && p.kind !== "data" && this.waitKeyframe) {
      const hasVideo = this.hub.videoConfig !== undefined;
      if (p.kind === "video" ? !p.keyframe : hasVideo) return;
      this.waitKeyframe = false;
    }
    const n = p.data.byteLength;
    if (this.queued + n > this.maxQueue) {
      this.droppedPackets += this.queue.length + 1;
      this.queue = [];
      this.queued = 0;
      this.waitKeyframe = true;
      const now = Date.now();
      if (now - this.lastDropLog > 5000) {
        this.lastDropLog = now;
        this.log.warn(`forward: ${this.hub.name} -> ${this.url} too slow, dropped to the next keyframe (${this.droppedPackets} packets so far)`);
      }
      return;
    }
    this.queue.push(p);
    this.queued += n;
    this.waker.wake();
  }

  onUnpublish(): void {
    this.stop();
  }

  /** Ends the forward (unpublish, config change); resolves when the connection is closed. */
  async stop(): Promise<void> {
    if (this.stopped) return this.running;
    this.stopped = true;
    this.connected = false;
    this.subscription?.dispose();
    this.subscription = undefined;
    this.queue = [];
    this.queued = 0;
    this.client?.destroy();
    this.waker.wake();
    await this.running;
  }

  private async run(): Promise<void> {
    let delay = this.minBackoff;
    while (!this.stopped) {
      try {
        await this.session();
      } catch (e) {
        if (this.stopped) break;
        this.failures++;
        const msg = e instanceof Error ? e.message : String(e);
        this.lastError = msg;
        this.recentErrors.push(msg);
        if (this.recentErrors.length > 8) this.recentErrors.shift();
        this.log.warn(`forward: ${this.hub.name} -> ${this.url} failed: ${msg}; retry in ${delay / 1000}s`);
      } finally {
        this.connected = false;
        this.queue = [];
        this.queued = 0;
        this.client?.destroy();
        this.client = undefined;
      }
      if (this.stopped) break;
      // A session that ended after a successful publish resets the back-off (see session()).
      if (this.connectedOnce) {
        delay = this.minBackoff;
        this.connectedOnce = false;
      }
      await this.waker.sleep(delay);
      delay = Math.min(delay * 2, this.maxBackoff);
    }
    this.log.trace(`forward: ${this.hub.name} -> ${this.url} stopped, ${this.sentPackets} packets sent, ${this.droppedPackets} dropped`);
  }

  private connectedOnce = false;

  private async session(): Promise<void> {
    const client = await this.connect(this.url, { timeoutMs: this.connectTimeout });
    this.client = client;
    if (this.stopped) return;
    await client.publish();
    if (this.stopped) return;
    this.connects++;
    this.connectedOnce = true;
    this.log.trace(`forward: ${this.hub.name} -> ${this.url} publishing`);
    let closed = false;
    void client.closed.then(() => {
      closed = true;
      this.waker.wake();
    });
    // Start like a new player: metadata and sequence headers, then frames from the next keyframe.
    const hub = this.hub;
    for (const p of [hub.metadata, hub.videoConfig, ...hub.audioConfigs()]) if (p && flvPlayersDecode(p)) this.send(client, p);
    this.waitKeyframe = true;
    this.connected = true;
    while (!this.stopped) {
      if (closed) throw new Error("connection closed by the destination");
      const p = this.queue.shift();
      if (!p) {
        await this.waker.wait();
        continue;
      }
      this.queued -= p.data.byteLength;
      if (!this.send(client, p)) await this.drained(client);
    }
  }

  private send(client: Upstream, p: MediaPacket): boolean {
    const body = packetToFlvBody(p);
    this.sentPackets++;
    this.sentBytes += body.length;
    return client.sendMedia(p.kind, p.dts, body);
  }

  private async drained(client: Upstream): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.drain(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`destination stalled: socket not drained in ${this.stallMs}ms`)), this.stallMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
