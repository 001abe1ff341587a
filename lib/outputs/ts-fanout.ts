/**
 * The live MPEG-TS output of a hub: one shared, stateful TS muxer whose bytes every TS player of the stream
 * shares through a FanOut. Used by HTTP-TS (`http_remux` mounts ending in `.ts`, lib/protocols/http/live.ts) and
 * SRT players (lib/protocols/srt/bridge.ts); it lives here, outside both protocols, so neither imports the other.
 *
 * Use:
 *
 *   const ts = tsFanOut(hub, { mwLatencyMs, minLatency, queueSeconds });   // shared per hub ("ts" format)
 *   const player = new BytePlayer(sink, { onOverflow, onUnpublish });
 *   player.writeNow(ts.header());   // PAT+PMT first, so an audio-only stream is decodable at once
 *   ts.fanout.add(player);          // then the GOP replay (starting at a keyframe, which carries PAT/PMT) and live
 *   ...
 *   ts.fanout.remove(player);       // on close; the last player drops the format (and the muxer) from the hub
 *
 * HTTP response headers: `Content-Type: video/MP2T` (SRS sends this), chunked.
 *
 * PAT/PMT are repeated before every video keyframe, and for audio-only streams every second of audio, so a
 * player can join anywhere. Codecs: H.264, HEVC, AAC, MP3 (see lib/formats/mpegts-mux.ts); others are dropped.
 */
import { TsMuxer } from "../formats/mpegts-mux.ts";
import { FanOut, type FanOutOptions } from "../hub/fanout.ts";
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

/** The hub's shared HTTP-TS fan-out (created on first use) and a header for joining players. */
export function tsFanOut(hub: StreamHub, opts: FanOutOptions): { fanout: FanOut; header(): Uint8Array } {
  const fanout = hub.format(TS_FORMAT_NAME, () => {
    const e = tsEncoderFor(hub);
    return new TsFanOut(hub, TS_FORMAT_NAME, (p) => e.encode(p), opts, e);
  }) as TsFanOut;
  return { fanout, header: () => fanout.encoder.header() };
}

/** A FanOut that remembers its encoder (so later players of the same hub get its header). */
class TsFanOut extends FanOut {
  constructor(hub: StreamHub, name: string, encode: (p: MediaPacket) => Uint8Array | null, opts: FanOutOptions, readonly encoder: TsStreamEncoder) {
    super(hub, name, encode, opts);
  }
}
