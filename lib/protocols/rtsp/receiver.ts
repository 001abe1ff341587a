/**
 * RTP of one received track (an RTSP publisher's, or a camera we pull) -> MediaPackets for the hub: the payload
 * format's depacketizer (lib/formats/rtp), parameter sets (SDP sprop-* and in band) turned into the decoder
 * configuration record, AAC's config (mpeg4-generic `config=`, LATM's StreamMuxConfig), decode times rebuilt for
 * B-frames. Timestamps: the track's RTP clock unwrapped, its first packet placed at `arrivalMs` (the caller's
 * timeline, shared by the tracks of a session).
 */
import type { Log } from "../../log/logger.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { joinAvcc } from "../../media/avc.ts";
import { type ParamSets, updateParamSets } from "../../media/access-unit.ts";
import { buildOpusHead } from "../../media/opus-head.ts";
import { H264Depacketizer } from "../../formats/rtp/h264.ts";
import { H265Depacketizer } from "../../formats/rtp/h265.ts";
import { AacDepacketizer } from "../../formats/rtp/aac.ts";
import { LatmDepacketizer, latmAudioSpecificConfig } from "../../formats/rtp/latm.ts";
import { type SdpTrack, spropList } from "./sdp.ts";

/** RTP of one published track -> MediaPackets (timestamps in ms on the session's timeline). */
export class TrackReceiver {
  private h264?: H264Depacketizer;
  private h265?: H265Depacketizer;
  private aac?: AacDepacketizer;
  private latm?: LatmDepacketizer;
  private params: ParamSets = { vps: [], sps: [], pps: [], configSent: false };
  private firstTs: number | undefined;
  private lastTs = 0;
  private ext = 0;
  private base = 0;
  private waitKey = true;
  private sentAudioConfig = false;
  private readonly codec: string;
  /** Video frames waiting for their DTS (see reorder), the PTS values not yet used as a DTS, and the last DTS. */
  private held: MediaPacket[] = [];
  private ptsPool: number[] = [];
  private depth: number | undefined;
  private lastDts = -Infinity;

  constructor(private sdp: SdpTrack, private emit: (p: MediaPacket) => void, private log: Log) {
    this.codec = sdp.codec;
    if (sdp.codec === "h264") {
      this.h264 = new H264Depacketizer();
      const sets = spropList(sdp.fmtp.get("sprop-parameter-sets"));
      this.takeParams(false, { sps: sets.filter((n) => (n[0]! & 0x1f) === 7), pps: sets.filter((n) => (n[0]! & 0x1f) === 8) }, 0);
    } else if (sdp.codec === "h265") {
      this.h265 = new H265Depacketizer();
      this.takeParams(true, { vps: spropList(sdp.fmtp.get("sprop-vps")), sps: spropList(sdp.fmtp.get("sprop-sps")), pps: spropList(sdp.fmtp.get("sprop-pps")) }, 0);
    } else if (sdp.codec === "aac" && sdp.aacFormat === "latm") {
      this.latm = new LatmDepacketizer();
    } else if (sdp.codec === "aac") {
      this.aac = new AacDepacketizer({
        sizeLength: Number(sdp.fmtp.get("sizelength") ?? 13),
        indexLength: Number(sdp.fmtp.get("indexlength") ?? 3),
        indexDeltaLength: Number(sdp.fmtp.get("indexdeltalength") ?? 3),
      });
    }
  }

  private takeParams(hevc: boolean, parts: { vps?: Uint8Array[]; sps?: Uint8Array[]; pps?: Uint8Array[] }, ms: number): void {
    const clean = { vps: parts.vps?.length ? parts.vps : undefined, sps: parts.sps?.length ? parts.sps : undefined, pps: parts.pps?.length ? parts.pps : undefined };
    let rec: Uint8Array | undefined;
    try {
      rec = updateParamSets(this.params, hevc, clean);
    } catch (e) {
      this.log.warn(`rtsp publish: bad parameter sets: ${(e as Error).message}`);
      return;
    }
    if (rec) this.emit({ kind: "video", codec: hevc ? "h265" : "h264", dts: ms, pts: ms, keyframe: true, config: true, data: rec });
  }

  /** RTP timestamp -> ms on the session timeline (32-bit wrap unfolded; the first packet at `arrivalMs`). */
  private ms(ts: number, arrivalMs: number): number {
    if (this.firstTs === undefined) {
      this.firstTs = ts;
      this.lastTs = ts;
      this.base = arrivalMs;
    }
    const d = ((ts - this.lastTs) | 0);
    this.ext += d;
    this.lastTs = ts;
    return this.base + (this.ext * 1000) / this.sdp.clockRate;
  }

  push(payload: Uint8Array, seq: number, ts: number, marker: boolean, pt: number, arrivalMs: number): void {
    if (pt !== this.sdp.payloadType) return;
    if (this.h264 || this.h265) {
      const hevc = !!this.h265;
      const frames = hevc ? this.h265!.push(payload, seq, ts, marker) : this.h264!.push(payload, seq, ts, marker);
      for (const f of frames) {
        const ms = Math.round(this.ms(f.timestamp, arrivalMs));
        if (f.broken && !f.keyframe) {
          this.waitKey = true;
          continue;
        }
        const parts: { vps?: Uint8Array[]; sps?: Uint8Array[]; pps?: Uint8Array[] } = {};
        const keep: Uint8Array[] = [];
        for (const n of f.nalus) {
          const t = hevc ? (n[0]! >> 1) & 0x3f : n[0]! & 0x1f;
          if (hevc ? t === 32 : false) (parts.vps ??= []).push(n);
          else if (hevc ? t === 33 : t === 7) (parts.sps ??= []).push(n);
          else if (hevc ? t === 34 : t === 8) (parts.pps ??= []).push(n);
          else if (hevc ? t === 35 : t === 9) continue;
          else keep.push(n);
        }
        if (parts.vps || parts.sps || parts.pps) this.takeParams(hevc, parts, ms);
        if (!keep.length || !this.params.configSent) continue;
        if (this.waitKey && !f.keyframe) continue;
        this.waitKey = false;
        this.reorder({ kind: "video", codec: this.codec as "h264" | "h265", dts: ms, pts: ms, keyframe: f.keyframe, config: false, data: joinAvcc(keep) });
      }
      return;
    }
    if (this.latm) {
      if (!this.sentAudioConfig) {
        const asc = latmAudioSpecificConfig(this.sdp.fmtp.get("config") ?? "");
        if (!asc) return;
        const ms0 = Math.round(this.ms(ts, arrivalMs));
        this.emit({ kind: "audio", codec: "aac", dts: ms0, pts: ms0, keyframe: false, config: true, data: asc });
        this.sentAudioConfig = true;
      }
      const au = this.latm.push(payload, seq, marker);
      if (!au) return;
      const ms = Math.round(this.ms(ts, arrivalMs));
      this.emit({ kind: "audio", codec: "aac", dts: ms, pts: ms, keyframe: false, config: false, data: au.slice() });
      return;
    }
    if (this.aac) {
      if (!this.sentAudioConfig) {
        const cfg = this.sdp.fmtp.get("config");
        if (!cfg || !/^([0-9a-fA-F]{2})+$/.test(cfg)) return;
        const asc = new Uint8Array(Buffer.from(cfg, "hex"));
        const ms0 = Math.round(this.ms(ts, arrivalMs));
        this.emit({ kind: "audio", codec: "aac", dts: ms0, pts: ms0, keyframe: false, config: true, data: asc });
        this.sentAudioConfig = true;
      }
      for (const au of this.aac.push(payload, seq, ts, marker)) {
        const ms = Math.round(this.ms(au.timestamp, arrivalMs));
        this.emit({ kind: "audio", codec: "aac", dts: ms, pts: ms, keyframe: false, config: false, data: au.data.slice() });
      }
      return;
    }
    if (!payload.byteLength) return;
    const ms = Math.round(this.ms(ts, arrivalMs));
    if (this.codec === "opus") {
      if (!this.sentAudioConfig) {
        this.emit({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: true, data: buildOpusHead(2, 48000) });
        this.sentAudioConfig = true;
      }
      this.emit({ kind: "audio", codec: "opus", dts: ms, pts: ms, keyframe: false, config: false, data: payload.slice() });
    } else if (this.codec === "pcma" || this.codec === "pcmu") {
      this.emit({ kind: "audio", codec: this.codec, dts: ms, pts: ms, keyframe: false, config: false, data: payload.slice() });
    }
  }

  /**
   * RTP carries presentation times only: with B-frames the decode times must be made up. Frames wait until
   * `depth` more have come; a frame's DTS is then the smallest PTS not yet used (the i-th frame in decode order
   * is decoded by the i-th presentation instant), kept monotonic. Baseline H.264 has no B-frames (no wait);
   * otherwise the depth starts at 2 (x264's B-pyramid) and grows (up to 4) when a frame shows it was too small.
   */
  private reorder(p: MediaPacket): void {
    if (this.depth === undefined) {
      const sps = this.params.sps[0];
      this.depth = this.codec === "h264" && sps && sps[1] === 66 ? 0 : 2;
    }
    this.held.push(p);
    const at = this.ptsPool.findIndex((x) => x > p.pts);
    this.ptsPool.splice(at < 0 ? this.ptsPool.length : at, 0, p.pts);
    while (this.held.length > this.depth) this.release();
  }

  private release(): void {
    const f = this.held.shift()!;
    let dts = this.ptsPool.shift()!;
    if (dts > f.pts) {
      if (this.depth! < 4) this.depth!++;
      dts = f.pts;
    }
    dts = Math.max(dts, this.lastDts);
    this.lastDts = dts;
    this.emit({ ...f, dts });
  }

  flush(): void {
    // Depacketizers hold at most a frame without its marker: dropped. Frames waiting for their DTS go out.
    while (this.held.length) this.release();
  }
}
