/**
 * The JSON objects of /api/v1/vhosts, streams and clients, field for field as SRS prints them (see
 * tests/fixtures/srs-samples): vhost and stream ids are `vid-…`, a stream's `vhost` is the vhost's *id*, kbps are the
 * 30 s averages of stats.ts, `video`/`audio` are null until the stream has the codec's sequence header.
 */
import { type ClientInfo, isPublishType } from "../../clients.ts";
import { isWorkerCopy, type StreamHub } from "../../hub/stream-hub.ts";
import { parseAudioSpecificConfig } from "../../media/aac.ts";
import { parseAvcConfig, parseAvcSps } from "../../media/avc.ts";
import { parseHevcConfig, parseHevcSps } from "../../media/hevc.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { streamUrl } from "../../media/packet.ts";
import type { ServerView } from "../server-view.ts";
import type { Stats } from "../stats.ts";
import { round2 } from "./system.ts";
import { streamHealth } from "../health.ts";

export interface VideoJson {
  codec: string;
  profile: string;
  level: string;
  width: number;
  height: number;
}

export interface AudioJson {
  codec: string;
  sample_rate: number;
  channel: number;
  profile: string;
}

/** H.264 profile_idc → SRS's name. */
export function avcProfileName(p: number): string {
  switch (p) {
    case 66: return "Baseline";
    case 77: return "Main";
    case 88: return "Extended";
    case 100: return "High";
    case 110: return "High(10+)";
    case 122: return "High(422)";
    case 244: return "High(444)";
    default: return "Other";
  }
}

/** H.264 level_idc → "3.1", "3", "1b". */
export function avcLevelName(l: number): string {
  if (l === 9) return "1b";
  if (l <= 0) return "Other";
  return l % 10 === 0 ? String(l / 10) : (l / 10).toFixed(1);
}

export function hevcProfileName(p: number): string {
  switch (p) {
    case 1: return "Main";
    case 2: return "Main10";
    case 3: return "MainStillPicture";
    case 4: return "RExt";
    default: return "Other";
  }
}

/** HEVC general_level_idc (30 × level) → "3.1". */
export function hevcLevelName(l: number): string {
  if (l <= 0) return "Other";
  const v = l / 30;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export function aacProfileName(objectType: number, sbr: boolean, ps: boolean): string {
  if (ps) return "HEv2";
  if (sbr) return "HE";
  switch (objectType) {
    case 1: return "Main";
    case 2: return "LC";
    case 3: return "SSR";
    case 5: return "HE";
    case 29: return "HEv2";
    default: return "Other";
  }
}

const videoCache = new WeakMap<MediaPacket, VideoJson | null>();
const audioCache = new WeakMap<MediaPacket, AudioJson | null>();

export function videoJson(cfg: MediaPacket | undefined): VideoJson | null {
  if (!cfg) return null;
  const hit = videoCache.get(cfg);
  if (hit !== undefined) return hit;
  let v: VideoJson | null;
  try {
    if (cfg.codec === "h264") {
      const c = parseAvcConfig(cfg.data);
      const sps = c.sps[0] ? parseAvcSps(c.sps[0]) : undefined;
      v = {
        codec: "H264", profile: avcProfileName(sps?.profileIdc ?? c.profile), level: avcLevelName(sps?.levelIdc ?? c.level),
        width: sps?.width ?? 0, height: sps?.height ?? 0,
      };
    } else if (cfg.codec === "h265") {
      const c = parseHevcConfig(cfg.data);
      const sps = c.sps[0] ? parseHevcSps(c.sps[0]) : undefined;
      v = {
        codec: "HEVC", profile: hevcProfileName(sps?.profileIdc ?? c.profileIdc), level: hevcLevelName(sps?.levelIdc ?? c.levelIdc),
        width: sps?.width ?? 0, height: sps?.height ?? 0,
      };
    } else {
      v = { codec: cfg.codec.toUpperCase(), profile: "Other", level: "Other", width: 0, height: 0 };
    }
  } catch {
    v = { codec: cfg.codec === "h265" ? "HEVC" : cfg.codec.toUpperCase(), profile: "Other", level: "Other", width: 0, height: 0 };
  }
  videoCache.set(cfg, v);
  return v;
}

const FLV_RATES = [5512, 11025, 22050, 44100];

/** What the API's JSON shapes read of the server. */
export type ShapesPorts = Pick<ServerView, "config" | "hubs" | "clients"> & {
  /** The edge: a stream's upstream (`edge` in the stream's JSON), when it has one. */
  readonly edge?: { describe(hub: StreamHub): Record<string, unknown> | undefined };
  /** srs-ts's workers: another worker's pull is no client of the server. */
  readonly workers?: { isInternal(c: ClientInfo): boolean };
};

/** The server's clients: every connection but srs-ts's internal pulls between workers (counted on no worker). */
export function serverClients(ctx: Pick<ShapesPorts, "clients" | "workers">): ClientInfo[] {
  const all = ctx.clients.all();
  return ctx.workers ? all.filter((c) => !ctx.workers!.isInternal(c)) : all;
}

/** From the AAC AudioSpecificConfig, or (MP3, Opus, …: no config) from the first audio frame the hub holds. */
export function audioJson(hub: StreamHub): AudioJson | null {
  let p = hub.audioConfig;
  if (!p) {
    for (const x of hub.gop.snapshot()) {
      if (x.kind === "audio" && !x.derived) {
        p = x;
        break;
      }
    }
  }
  if (!p) return null;
  const hit = audioCache.get(p);
  if (hit !== undefined) return hit;
  let a: AudioJson;
  if (p.codec === "aac" && p.config) {
    try {
      const asc = parseAudioSpecificConfig(p.data);
      a = { codec: "AAC", sample_rate: asc.sampleRate, channel: asc.channels, profile: aacProfileName(asc.objectType, asc.sbr, asc.ps) };
    } catch {
      a = { codec: "AAC", sample_rate: 0, channel: 0, profile: "Other" };
    }
  } else {
    const f = p.flvAudioFlags;
    const codec = p.codec === "mp3" ? "MP3" : p.codec === "opus" ? "Opus" : p.codec.toUpperCase();
    a = {
      codec,
      sample_rate: f !== undefined ? FLV_RATES[(f >> 2) & 3]! : p.codec === "opus" ? 48000 : 0,
      channel: f !== undefined ? (f & 1) + 1 : 2,
      profile: "Other",
    };
  }
  audioCache.set(p, a);
  return a;
}

function kbpsJson(k: [number, number]): { recv_30s: number; send_30s: number } {
  return { recv_30s: k[0], send_30s: k[1] };
}

export function streamJson(ctx: ShapesPorts, stats: Stats, hub: StreamHub): Record<string, unknown> {
  const clients = stats.clientsOf(hub.key);
  const pub = hub.publisher ? ctx.clients.get(hub.publisher.clientId) : undefined;
  const s = stats.stream(hub);
  const publish: Record<string, unknown> = { active: hub.active };
  if (hub.publisher) publish.cid = hub.publisher.clientId;
  return {
    id: hub.id,
    name: hub.key.stream,
    vhost: stats.vhostId(hub.key.vhost),
    app: hub.key.app,
    tcUrl: pub?.tcUrl ?? clients[0]?.tcUrl ?? "",
    url: hub.url,
    live_ms: Date.now(),
    clients: clients.length,
    frames: hub.videoFrames,
    send_bytes: s.send,
    recv_bytes: s.recv,
    kbps: kbpsJson(s.kbps),
    publish,
    video: hub.active ? videoJson(hub.videoConfig) : null,
    audio: hub.active ? audioJson(hub) : null,
    // srs-ts extension: ok / warning / bad with the reasons (lib/services/health.ts)
    health: streamHealth(hub, Date.now(), pub?.details?.()),
    ...edgeJson(ctx, hub),
  };
}

/**
 * srs-ts extension: `edge` names the upstream of a stream an edge pulls or relays; `edge.worker` is true on a
 * worker's copy of another worker's stream (`workers N;`: the workers API counts it on the owner).
 */
function edgeJson(ctx: ShapesPorts, hub: StreamHub): { edge?: Record<string, unknown> } {
  const e = ctx.edge?.describe(hub);
  if (isWorkerCopy(hub)) return { edge: { ...e, worker: true } };
  return e ? { edge: e } : {};
}

/** A client's JSON; `detail` (the one-client answer) adds the protocol's own state (`c.details()`). */
export function clientJson(ctx: ShapesPorts, stats: Stats, c: ClientInfo, detail = false): Record<string, unknown> {
  const key = c.stream;
  const hub = key && key.stream ? ctx.hubs.find(key) : undefined;
  const t = stats.client(c.id);
  return {
    id: c.id,
    vhost: key?.vhost ? stats.vhostId(key.vhost) : "",
    stream: hub?.id ?? "",
    ip: c.ip,
    pageUrl: c.pageUrl ?? "",
    swfUrl: c.swfUrl ?? "",
    tcUrl: c.tcUrl ?? "",
    url: key && key.stream ? streamUrl(key) : "",
    name: key?.stream ?? "",
    type: c.type,
    publish: isPublishType(c.type),
    alive: round2((Date.now() - c.connectedAt) / 1000),
    send_bytes: t.send || c.bytesOut(),
    recv_bytes: t.recv || c.bytesIn(),
    kbps: kbpsJson(t.kbps),
    ...(c.transport ? { transport: c.transport } : {}),
    ...(detail && c.details ? c.details() : {}),
  };
}

/** Vhosts the API lists: those configured plus any that has a stream. */
export function vhostNames(ctx: ShapesPorts): string[] {
  const names = new Set<string>();
  for (const n of ctx.config.vhosts()) names.add(n);
  for (const h of ctx.hubs.all()) names.add(h.key.vhost);
  if (names.size === 0) names.add("__defaultVhost__");
  return [...names];
}

export function vhostJson(ctx: ShapesPorts, stats: Stats, name: string): Record<string, unknown> {
  const cfg = ctx.config.vhost(name);
  const t = stats.vhostTotals(name);
  const clients = serverClients(ctx).filter((c) => c.stream?.vhost === name && c.stream.stream).length;
  // A worker's copy of a stream another worker publishes is counted there (srs-ts's workers).
  const streams = ctx.hubs.all().filter((h) => h.key.vhost === name && !isWorkerCopy(h)).length;
  const hlsOn = cfg?.hls.enabled ?? false;
  const hls: Record<string, unknown> = { enabled: hlsOn };
  if (hlsOn) hls.fragment = cfg!.hls.fragment;
  return {
    id: stats.vhostId(name),
    name,
    enabled: cfg?.enabled ?? false,
    clients,
    streams,
    send_bytes: t.send,
    recv_bytes: t.recv,
    kbps: kbpsJson(t.kbps),
    hls,
  };
}
