/**
 * The audio bridge (lib/services/audio-bridge/, transcoding in its worker) on a hub: AAC from clip.flv becomes an Opus rendition only while a WebRTC viewer wants it;
 * an Opus publisher gives RTMP players AAC; start-up packets carry both renditions' configs; derived packets
 * are never transcoded again; API stats and the FLV header see the right audio.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { BytePlayer, type ByteSink, FanOut } from "../../../lib/hub/fanout.ts";
import { type HubSubscriber, type PublisherInfo, StreamHub } from "../../../lib/hub/stream-hub.ts";
import { silentLog } from "../../../lib/log/logger.ts";
import { AacDecoder } from "../../../lib/media/audio/aac-decoder.ts";
import { OpusEncoder } from "../../../lib/media/audio/opus.ts";
import { buildOpusHead } from "../../../lib/media/audio/transcoder.ts";
import type { MediaPacket } from "../../../lib/media/packet.ts";
import { flvHeaderFlags } from "../../../lib/protocols/http/flv-stream.ts";
import { encodeRtmpPacket } from "../../../lib/protocols/rtmp/output.ts";
import { RtcPacketizer } from "../../../lib/protocols/rtc/output.ts";
import { audioJson } from "../../../lib/services/api/shapes.ts";
import { AudioBridge } from "../../../lib/services/audio-bridge/bridge.ts";
import { TranscoderPool } from "../../../lib/services/audio-bridge/pool.ts";
import { clipPackets } from "../../helpers/clip-packets.ts";

function newHub(): StreamHub {
  return new StreamHub({ vhost: "__defaultVhost__", app: "live", stream: "s" }, {
    gopCache: true,
    gopCacheMaxFrames: 2500,
    timeJitter: "full",
  }, silentLog(), "vid-test");
}
/** One worker for every bridge of this file, as the server has. */
const pool = new TranscoderPool(silentLog(), { size: 1 });
afterAll(() => pool.close());

const PUB: PublisherInfo = { clientId: "c1", type: "fmle-publish", ip: "127.0.0.1", kick: () => {} };

class Recorder implements HubSubscriber {
  got: MediaPacket[] = [];
  onPacket(p: MediaPacket): void {
    this.got.push(p);
  }
  onUnpublish(): void {}
}


/** A 440 Hz stereo sine as 20 ms Opus packets. */
function opusSine(packets: number): Uint8Array[] {
  const enc = new OpusEncoder({ channels: 2, bitrate: 64000 });
  const out: Uint8Array[] = [];
  const L = new Float32Array(960);
  const R = new Float32Array(960);
  for (let k = 0; k < packets; k++) {
    for (let i = 0; i < 960; i++) {
      const t = (k * 960 + i) / 48000;
      L[i] = R[i] = 0.5 * Math.sin(2 * Math.PI * 440 * t);
    }
    out.push(enc.encode([L, R], 0, 960)!);
  }
  enc.close();
  return out;
}

const isOpus = (p: MediaPacket) => p.kind === "audio" && p.codec === "opus";
const isAac = (p: MediaPacket) => p.kind === "audio" && p.codec === "aac";

describe("audio bridge in the hub", () => {
  test("AAC publisher: Opus rendition (config + 20 ms packets on the hub timeline) only while a viewer wants it", async () => {
    const hub = newHub();
    hub.startPublish(PUB);
    const bridge = new AudioBridge(hub, { direction: "aac->opus", bitrate: 48000 }, pool);
    bridge.start();
    // The other direction attached too (as the server does): it must never transcode the derived Opus back.
    const back = new AudioBridge(hub, { direction: "opus->aac", bitrate: 48000 }, pool);
    back.start();
    const rec = new Recorder();
    hub.attach(rec, false);
    const pkts = clipPackets();
    expect(pkts.filter(isAac).length).toBeGreaterThan(100);
    const third = Math.floor(pkts.length / 3);

    // nobody wants Opus: the bridge idles
    for (const p of pkts.slice(0, third)) hub.publish(p);
    expect(rec.got.filter(isOpus)).toHaveLength(0);
    expect(bridge.running).toBe(false);
    expect(hub.altAudioConfig).toBeUndefined();

    // a WebRTC viewer arrives
    hub.wantAudio("opus", +1);
    const from = rec.got.length;
    // as live: each frame's Opus (a worker's round trip, well under a frame's duration) is back before the next
    for (const p of pkts.slice(third, 2 * third)) {
      hub.publish(p);
      await bridge.flush();
    }
    expect(bridge.running).toBe(true);
    const during = rec.got.slice(from);
    const opus = during.filter(isOpus);
    expect(opus[0]!.config).toBe(true);
    expect(opus[0]!.derived).toBe(true);
    expect(hub.altAudioConfig).toBe(opus[0]);
    const frames = opus.filter((p) => !p.config);
    const aacIn = during.filter((p) => isAac(p) && !p.config);
    // 20 ms packets covering the AAC input, minus the encoder's buffering (< 2 packets)
    const inMs = aacIn.at(-1)!.dts - aacIn[0]!.dts + 1024 * 1000 / 44100;
    expect(frames.length).toBeGreaterThanOrEqual(Math.floor(inMs / 20) - 2);
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(inMs / 20));
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.dts - frames[i - 1]!.dts).toBe(20);
    // on the hub's (jitter-corrected) timeline: anchored at the first AAC frame after the viewer came
    expect(frames[0]!.dts).toBe(aacIn[0]!.dts);
    expect(frames.at(-1)!.dts).toBeLessThanOrEqual(aacIn.at(-1)!.dts);
    // every derived packet reached the recorder once, and no bridge transcoded one again
    expect(new Set(frames).size).toBe(frames.length);
    expect(back.framesIn).toBe(0);
    expect(back.running).toBe(false);
    expect(rec.got.filter(isAac).every((p) => !p.derived)).toBe(true);
    // WebRTC sends the Opus, skips the AAC
    const rtc = new RtcPacketizer({ keepBframe: false, keepSei: true });
    expect(rtc.unit(frames[0]!)?.kind).toBe("audio");
    expect(rtc.unit(aacIn[0]!)).toBeUndefined();

    // start-up packets: metadata, video config, publisher's audio config, derived audio config, then the GOP
    const st = hub.startupPackets();
    expect(st.slice(0, 4).map((p) => `${p.kind}/${p.codec}/${p.config}`)).toEqual([
      "data/amf0/false", "video/h264/true", "audio/aac/true", "audio/opus/true",
    ]);
    expect(st[2]).toBe(hub.audioConfig!);
    expect(st[3]).toBe(hub.altAudioConfig!);
    expect(st.slice(4).some(isOpus)).toBe(true);
    expect(st.slice(4)[0]!.keyframe).toBe(true);
    // the API describes the publisher's audio
    expect(audioJson(hub)?.codec).toBe("AAC");
    expect(audioJson(hub)?.sample_rate).toBe(44100);

    // the viewer leaves: the bridge idles
    hub.wantAudio("opus", -1);
    expect(bridge.running).toBe(false);
    const after = rec.got.length;
    for (const p of pkts.slice(2 * third)) hub.publish(p);
    await Bun.sleep(100); // time for a late answer, were one to come
    expect(rec.got.slice(after).filter(isOpus)).toHaveLength(0);
    expect(bridge.runs).toBe(1);
    hub.stopPublish(PUB);
    expect(hub.subscriberCount).toBe(1); // both bridges left, the recorder stays
  });

  test("Opus publisher: RTMP players get the bridge's AAC (config + frames), not the Opus", async () => {
    const hub = newHub();
    hub.startPublish({ ...PUB, type: "rtc-publish" });
    const bridge = new AudioBridge(hub, { direction: "opus->aac", bitrate: 64000 }, pool);
    bridge.start();
    const sent: MediaPacket[] = [];
    const fan = new FanOut(hub, "rtmp/60000", (p) => {
      const b = encodeRtmpPacket(p, 60000);
      if (b) sent.push(p);
      return b;
    }, { mwLatencyMs: 0, minLatency: true, queueSeconds: 10 });
    hub.attach(fan, false);
    const writes: Uint8Array[] = [];
    const sink: ByteSink = { write: (d) => writes.push(d), writableLength: 0, destroyed: false };
    fan.add(new BytePlayer(sink, { onOverflow: () => {}, onUnpublish: () => {} }));

    // as the WebRTC session publishes: a video config and keyframe, the OpusHead, then 2 s of 20 ms packets (from t=5000 ms)
    hub.publish({ kind: "video", codec: "h264", dts: 5000, pts: 5000, keyframe: true, config: true, data: new Uint8Array([1, 0x42, 0, 0x1f, 0xff, 0xe0, 0]) });
    hub.publish({ kind: "video", codec: "h264", dts: 5000, pts: 5000, keyframe: true, config: false, data: new Uint8Array([0, 0, 0, 1, 0x65]) });
    hub.publish({ kind: "audio", codec: "opus", dts: 5000, pts: 5000, keyframe: false, config: true, data: buildOpusHead(2, 48000) });
    const ops = opusSine(100);
    ops.forEach((data, i) => hub.publish({ kind: "audio", codec: "opus", dts: 5000 + 20 * i, pts: 5000 + 20 * i, keyframe: false, config: false, data }));
    await bridge.flush();
    await new Promise((r) => setImmediate(r));

    expect(sent.some(isOpus)).toBe(false);
    const aac = sent.filter(isAac);
    expect(aac[0]!.config).toBe(true);
    expect(aac[0]!.derived).toBe(true);
    const frames = aac.filter((p) => !p.config);
    // 2 s at 48 kHz = 93.75 frames of 1024, minus the priming frame and the pre-skip
    expect(frames.length).toBeGreaterThanOrEqual(90);
    expect(frames.length).toBeLessThanOrEqual(94);
    // on the corrected timeline (time_jitter full starts at 0), 1024/48000 s apart
    expect(frames[0]!.dts).toBe(0);
    for (let i = 1; i < frames.length; i++) expect(Math.abs(frames[i]!.dts - frames[i - 1]!.dts - 21.333)).toBeLessThan(0.7);
    expect(writes.reduce((n, w) => n + w.byteLength, 0)).toBeGreaterThan(frames.reduce((n, p) => n + p.data.byteLength, 0));
    // the AAC decodes to the sine
    const dec = new AacDecoder(aac[0]!.data);
    let energy = 0;
    let n = 0;
    for (const f of frames.slice(5)) {
      const r = dec.decode(f.data);
      expect(r.ok).toBe(true);
      for (const x of r.pcm[0]!) energy += x * x;
      n += 1024;
    }
    expect(Math.sqrt(energy / n)).toBeGreaterThan(0.25); // 0.5 amplitude sine: rms 0.354

    // caches: the publisher's Opus config for stats, the AAC one as the derived slot
    expect(hub.audioConfig?.codec).toBe("opus");
    expect(hub.altAudioConfig?.codec).toBe("aac");
    expect(audioJson(hub)?.codec).toBe("Opus");
    expect(hub.startupPackets().slice(0, 2).map((p) => p.codec)).toEqual(["h264", "opus"]);
    expect(hub.startupPackets()[2]).toBe(hub.altAudioConfig!);
    // the FLV header announces audio thanks to the AAC rendition (FLV players skip Opus)
    expect(flvHeaderFlags(hub, { hasAudio: true, hasVideo: true, guessHasAv: true }).hasAudio).toBe(true);
    bridge.close();
    hub.altAudioConfig = undefined;
    hub.gop.clear();
    expect(flvHeaderFlags(hub, { hasAudio: true, hasVideo: true, guessHasAv: true }).hasAudio).toBe(false);
    hub.stopPublish(hub.publisher!);
  });

  test("publishDerived: no jitter correction, not back to its bridge, ignored without a publisher", () => {
    const hub = newHub();
    const rec = new Recorder();
    const from = new Recorder();
    hub.attach(rec, false);
    hub.attach(from, false);
    const p: MediaPacket = { kind: "audio", codec: "opus", dts: 123456, pts: 123456, keyframe: false, config: false, data: new Uint8Array(3) };
    hub.publishDerived(p, from);
    expect(rec.got).toHaveLength(0);
    hub.startPublish(PUB);
    hub.publishDerived(p, from);
    expect(rec.got).toEqual([p]);
    expect(from.got).toHaveLength(0);
    expect(p.dts).toBe(123456);
    expect(p.derived).toBe(true);
    expect(hub.packetsIn).toBe(0);
    // wants are counted per codec and never go negative
    hub.wantAudio("opus", -1);
    expect(hub.wanted("opus")).toBe(0);
    hub.wantAudio("opus", +1);
    hub.wantAudio("opus", +1);
    expect(hub.wanted("opus")).toBe(2);
  });
});
