/**
 * The live MPEG-TS output of a hub: one shared, stateful TS muxer per set of player options (fanOutKey) whose
 * bytes every TS player with those options shares through a FanOut (SRT players flush every event-loop turn,
 * HTTP-TS players every mw_latency: two outputs). Used by HTTP-TS (`http_remux` mounts ending in `.ts`, lib/protocols/http/live.ts) and
 * SRT players (lib/protocols/srt/bridge.ts); it lives here, outside both protocols, so neither imports the other.
 *
 * Use:
 *
 *   const player = new BytePlayer(sink, { onOverflow, onUnpublish });
 *   const play = hub.play(tsOutput({ mwLatencyMs, minLatency, queueSeconds }), player);
 *     // a live stream's player gets PAT+PMT first (an audio-only stream is decodable at once), then the GOP
 *     // replay (starting at a keyframe, which carries PAT/PMT) and live
 *   ...
 *   play.dispose();                 // on close; the last player drops the output (and the muxer) from the hub
 *
 * HTTP response headers: `Content-Type: video/MP2T` (SRS sends this), chunked.
 *
 * PAT/PMT are repeated before every video keyframe, and for audio-only streams every second of audio, so a
 * player can join anywhere. Codecs: H.264, HEVC, AAC, MP3 (see lib/formats/mpegts-mux.ts); others are dropped.
 */
import { TsMuxer } from "../formats/mpegts-mux.ts";
import { type BytePlayer, FanOut, fanOutKey, type FanOutOptions, type FanOutRule, mergedWrites } from "../hub/fanout.ts";
import type { OutputSpec } from "../hub/lease.ts";
import type { StreamHub } from "../hub/stream-hub.ts";
import type { MediaPacket } from "../media/packet.ts";

export const TS_CONTENT_TYPE = "video/MP2T";
export const TS_FORMAT_NAME = "ts";

/** A stateful encoder of one hub's packets to a continuous transport stream. */
export interface TsStreamEncoder {
  /** PAT+PMT as they stand (for a joining player; does not disturb the shared continuity counters). */
  header(): Uint8Array;
  /** One packet's TS bytes (null for config/data packets and unsupported codecs). Call in stream order. */
  encode(p: MediaPacket): Uint8Array | null;
}

const AUDIO_ONLY_TABLES_MS = 1000;

export function tsEncoderFor(hub: StreamHub): TsStreamEncoder {
  const vc = hub.videoConfig?.codec;
  const ac = hub.audioConfigs().find((c) => c.codec === "aac")?.codec;
  const muxer = new TsMuxer({
    video: vc === "h264" || vc === "h265" ? vc : undefined,
    audio: ac === "aac" ? ac : undefined,
    tablesOnKeyframe: true,
  });
  let lastTablesDts = Number.NEGATIVE_INFINITY;
  return {
    header: () => muxer.peekTables(),
    encode(p: MediaPacket): Uint8Array | null {
      const b = muxer.mux(p);
      if (!b || muxer.hasVideo || p.kind !== "audio") return b;
      // Audio-only: repeat the tables about every second.
      if (p.dts - lastTablesDts < AUDIO_ONLY_TABLES_MS && p.dts >= lastTablesDts) return b;
      lastTablesDts = p.dts;
      const t = muxer.tables();
      const out = new Uint8Array(t.length + b.length);
      out.set(t, 0);
      out.set(b, t.length);
      return out;
    },
  };
}

/**
 * The hub's shared TS output (players lease it with hub.play). `rule` is how `opts` came from the vhost config
 * (HTTP-TS: mergedWrites, SRT: everyTurn); a reload re-applies it to the running output.
 */
export function tsOutput(opts: FanOutOptions, rule: FanOutRule = mergedWrites): OutputSpec<TsFanOut> {
  return {
    key: fanOutKey(TS_FORMAT_NAME, opts),
    create: (hub) => {
      const e = tsEncoderFor(hub);
      return new TsFanOut(hub, TS_FORMAT_NAME, (p) => e.encode(p), opts, e, rule);
    },
  };
}

/** A FanOut that remembers its encoder: a player joining a live stream gets PAT+PMT first. */
export class TsFanOut extends FanOut {
  constructor(hub: StreamHub, name: string, encode: (p: MediaPacket) => Uint8Array | null, opts: FanOutOptions, readonly encoder: TsStreamEncoder, rule?: FanOutRule) {
    super(hub, name, encode, opts, rule);
  }

  override add(player: BytePlayer): void {
    if (this.hub.active) player.writeNow(this.encoder.header());
    super.add(player);
  }
}
