/**
 * The contract between the hub and every adapter: whatever an adapter takes from the hub it gets as a lease, and
 * one `dispose()` gives all of it back. No adapter pairs get/release, startPublish/stopPublish, attach/detach or
 * format/dropFormat calls by hand (MediaMTX's model: AddReader with a deferred RemoveReader).
 *
 *   const pub = hubs.publish(key, info);              // claims the stream (PublishError when busy)
 *   pub.push(packet); ...; pub.dispose();             // unpublish; the hub is forgotten once nothing uses it
 *
 *   const play = hubs.play(key, rtmpOutput(60000, opts), player);   // the shared encoder of (format, options)
 *   ...; play.dispose();                              // detach; the last player drops the encoder; hub forgotten
 *
 *   const sub = hub.subscribe(recorder);              // HLS, DVR, forward: every packet of the stream
 *   const hold = hubs.hold(key);                      // keeps the hub (its id) alive without taking part
 *
 * Leases are idempotent: a second dispose() does nothing.
 */
import type { MediaPacket } from "../media/packet.ts";
import type { HubSubscriber, StreamHub } from "./stream-hub.ts";

export interface Lease {
  /** Gives back everything the lease took. Safe to call more than once. */
  dispose(): void;
}

/** A publisher's claim on a stream. */
export interface PublishLease extends Lease {
  readonly hub: StreamHub;
  /** Hands one of the publisher's packets to the hub (ignored once disposed). */
  push(p: MediaPacket): void;
}

/** A hold on a stream's hub (hubs.hold): keeps it, and its id, while nothing else uses it. */
export interface HubHold extends Lease {
  readonly hub: StreamHub;
}

/** A player's place on a shared output of a stream. */
export interface PlayLease<O> extends Lease {
  readonly hub: StreamHub;
  /** The shared output (one per hub, format and options). */
  readonly output: O;
}

/** An output shared by the players of one stream: one encoder, many players. */
export interface SharedOutput<P> extends HubSubscriber {
  add(player: P): void;
  remove(player: P): void;
  /** Players attached now (the hub drops the output when its last player leaves). */
  readonly size: number;
  /**
   * A reload changed the vhost's play queue settings: the output takes the options they now give its players,
   * in place (players already playing included), and returns its key under them (hub.reconfigureOutputs).
   */
  reconfigure?(c: PlayQueueConfig): string;
}

/** The vhost settings a player's queue follows (SRS: `play.mw_latency`, `play.queue_length`, `min_latency`). */
export interface PlayQueueConfig {
  readonly play: { readonly mwLatency: number; readonly queueLength: number };
  readonly minLatency: boolean;
}

/**
 * How to find or make a shared output: `key` names the format AND its options (players asking for different
 * latency/queue settings get different outputs); `create` makes it on first use.
 */
export interface OutputSpec<O> {
  readonly key: string;
  create(hub: StreamHub): O;
}

/** A lease that runs `release` once. */
export function lease(release: () => void): Lease {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      release();
    },
  };
}
