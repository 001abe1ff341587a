/**
 * HLS AES-128 (`hls_keys on`) end to end: ffmpeg publishes clip.flv by RTMP; the server writes encrypted TS or
 * fMP4 segments, 16-byte key files and EXT-X-KEY lines; ffmpeg plays the encrypted playlist over HTTP (it fetches
 * the key from the URI and decrypts), a playlist naming a wrong key (or a key URL that does not exist) decodes
 * nothing, and the key changes every hls_fragments_per_key segments. Each segment on disk is checked by decrypting
 * it with node:crypto (TS: 0x47 sync bytes every 188 bytes; fMP4: a moof box first).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createDecipheriv } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupAfterAll } from "../helpers/cleanup.ts";
import { waitForValue } from "../helpers/wait.ts";
import { clip } from "../helpers/media.ts";
import { playFrames, type Proc, publish, reloadConfig, type RunningServer, startServer } from "../helpers/server.ts";

const { procs: children, servers } = cleanupAfterAll();

const KEYS_ENV = {
  SRS_VHOST_HLS_ENABLED: "on",
  SRS_VHOST_HLS_HLS_FRAGMENT: "2",
  SRS_VHOST_HLS_HLS_WINDOW: "14",
  SRS_VHOST_HLS_HLS_PATH: "./hls",
  SRS_VHOST_HLS_HLS_KEYS: "on",
  SRS_VHOST_HLS_HLS_FRAGMENTS_PER_KEY: "2",
};

const waitFor = <T>(what: string, f: () => T | undefined | false, ms = 30000): Promise<T> => waitForValue(what, f, ms);

interface Seg {
  seq: number;
  uri: string;
  key: { uri: string; iv: string } | undefined;
}
/** The segments of an m3u8 with the key in force for each (RFC 8216 4.3.2.4). */
function parse(m3u8: string): { segs: Seg[]; keyLines: string[] } {
  const lines = m3u8.trim().split("\n");
  let seq = Number(lines.find((l) => l.startsWith("#EXT-X-MEDIA-SEQUENCE:"))!.split(":")[1]);
  let key: Seg["key"];
  const segs: Seg[] = [];
  const keyLines: string[] = [];
  for (const l of lines) {
    if (l.startsWith("#EXT-X-KEY:")) {
      keyLines.push(l);
      const m = /^#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)",IV=0x([0-9A-F]{32})$/.exec(l);
      key = m ? { uri: m[1]!, iv: m[2]! } : undefined;
    } else if (l && !l.startsWith("#")) segs.push({ seq: seq++, uri: l, key });
  }
  return { segs, keyLines };
}

function decrypt(bytes: Uint8Array, key: Uint8Array, ivHex: string): Buffer {
  const d = createDecipheriv("aes-128-cbc", key, Buffer.from(ivHex, "hex"));
  return Buffer.concat([d.update(bytes), d.final()]);
}

describe("hls_keys with TS segments", () => {
  let s: RunningServer;
  let dir: string;
  beforeAll(async () => {
    s = await startServer({ env: KEYS_ENV });
    servers.push(s);
    dir = join(s.dir, "hls", "live");
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/s"));
    children.push(pub);
    // 5 segments listed: keys for 2-segment runs, at least 2 of them.
    await waitFor("5 segments", () => existsSync(join(dir, "s.m3u8")) && parse(readFileSync(join(dir, "s.m3u8"), "utf8")).segs.length >= 5);
  }, 60000);

  test("EXT-X-KEY lines, a new key every 2 segments, 16-byte key files, segments decrypt to TS", () => {
    const text = readFileSync(join(dir, "s.m3u8"), "utf8");
    const { segs, keyLines } = parse(text);
    expect(keyLines.length).toBeGreaterThanOrEqual(2);
    for (const seg of segs) {
      expect(seg.key).toBeDefined();
      // the key of segment n is named after the first segment of its run: seq - seq % 2 (the first listed
      // segment of a publish also starts a key, here seq 0)
      expect(seg.key!.uri).toBe(`s-${seg.seq - (seg.seq % 2)}.key`);
      const key = readFileSync(join(dir, seg.key!.uri));
      expect(key.length).toBe(16);
      const enc = readFileSync(join(dir, seg.uri));
      expect(enc.length % 16).toBe(0);
      expect(enc[0] === 0x47 && enc[188] === 0x47).toBe(false); // not clear TS
      const clear = decrypt(enc, key, seg.key!.iv);
      expect(clear.length % 188).toBe(0);
      for (let o = 0; o < clear.length; o += 188) if (clear[o] !== 0x47) throw new Error(`${seg.uri}: no sync byte at ${o}`);
    }
    const distinct = new Set(segs.map((x) => x.key!.uri));
    expect(distinct.size).toBe(new Set(segs.map((x) => x.seq - (x.seq % 2))).size);
    const ivs = new Set(segs.map((x) => x.key!.iv));
    expect(ivs.size).toBe(distinct.size); // a fresh IV with each key
  });

  test("ffmpeg plays the encrypted playlist over HTTP (fetches the key, decrypts): ~100 frames in 4 s", async () => {
    const r = await playFrames(s.httpUrl("/live/s.m3u8"), 4, 20000);
    expect(r.video).toBeGreaterThanOrEqual(90);
    expect(r.video).toBeLessThanOrEqual(110);
  }, 40000);

  test("a playlist naming a wrong key decodes nothing; the same segments with the right key play", async () => {
    const { segs } = parse(readFileSync(join(dir, "s.m3u8"), "utf8"));
    const list = segs.slice(-3);
    const m3u8 = (keyUri: (x: Seg) => string) => [
      "#EXTM3U", "#EXT-X-VERSION:3", `#EXT-X-MEDIA-SEQUENCE:${list[0]!.seq}`, "#EXT-X-TARGETDURATION:3", "#EXT-X-PLAYLIST-TYPE:VOD",
      ...list.flatMap((x) => [`#EXT-X-KEY:METHOD=AES-128,URI="${keyUri(x)}",IV=0x${x.key!.iv}`, "#EXTINF:2.000,", x.uri]),
      "#EXT-X-ENDLIST", "",
    ].join("\n");
    writeFileSync(join(dir, "bad.key"), new Uint8Array(16).fill(7));
    writeFileSync(join(dir, "bad.m3u8"), m3u8(() => "bad.key"));
    writeFileSync(join(dir, "good.m3u8"), m3u8((x) => x.key!.uri));
    const bad = await playFrames(s.httpUrl("/live/bad.m3u8"), 3, 20000);
    expect(bad.video).toBe(0);
    const good = await playFrames(s.httpUrl("/live/good.m3u8"), 3, 20000);
    expect(good.video).toBeGreaterThanOrEqual(70);
  }, 60000);
});

describe("hls_keys with hls_key_url", () => {
  test("the URI is hls_key_url + the key file; a key URL that does not exist plays nothing", async () => {
    const s = await startServer({ env: { ...KEYS_ENV, SRS_VHOST_HLS_HLS_KEY_URL: "http://127.0.0.1:9/nokeys" } });
    servers.push(s);
    const dir = join(s.dir, "hls", "live");
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/u"));
    children.push(pub);
    await waitFor("3 segments", () => existsSync(join(dir, "u.m3u8")) && parse(readFileSync(join(dir, "u.m3u8"), "utf8")).segs.length >= 3);
    const { segs } = parse(readFileSync(join(dir, "u.m3u8"), "utf8"));
    for (const x of segs) expect(x.key!.uri).toBe(`http://127.0.0.1:9/nokeys/live/u-${x.seq - (x.seq % 2)}.key`);
    const r = await playFrames(s.httpUrl("/live/u.m3u8"), 3, 20000);
    expect(r.video).toBe(0);
    pub.kill();
  }, 60000);
});

describe("hls_keys with fMP4 segments", () => {
  test("the init segment stays clear, segments decrypt to moof+mdat, ffmpeg plays it", async () => {
    const s = await startServer({ env: { ...KEYS_ENV, SRS_VHOST_HLS_HLS_USE_FMP4: "on" } });
    servers.push(s);
    const dir = join(s.dir, "hls", "live");
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/f"));
    children.push(pub);
    await waitFor("3 segments", () => existsSync(join(dir, "f.m3u8")) && parse(readFileSync(join(dir, "f.m3u8"), "utf8")).segs.length >= 3);
    const text = readFileSync(join(dir, "f.m3u8"), "utf8");
    // EXT-X-MAP before the first EXT-X-KEY: the init segment is not encrypted.
    expect(text.indexOf("#EXT-X-MAP:")).toBeGreaterThan(0);
    expect(text.indexOf("#EXT-X-MAP:")).toBeLessThan(text.indexOf("#EXT-X-KEY:"));
    expect(readFileSync(join(dir, "f/init.mp4")).subarray(4, 8).toString()).toBe("ftyp");
    const { segs } = parse(text);
    for (const seg of segs) {
      const clear = decrypt(readFileSync(join(dir, seg.uri)), readFileSync(join(dir, seg.key!.uri)), seg.key!.iv);
      expect(clear.subarray(4, 8).toString()).toBe("moof");
    }
    const r = await playFrames(s.httpUrl("/live/f.m3u8"), 4, 20000);
    expect(r.video).toBeGreaterThanOrEqual(90);
    expect(r.video).toBeLessThanOrEqual(110);
    pub.kill();
  }, 60000);
});

describe("hls_keys on reload", () => {
  test("turned on then off for a live stream: keys start at the next keyframe, then METHOD=NONE; it plays throughout", async () => {
    const conf = (keys: boolean) => `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
vhost __defaultVhost__ { hls { enabled on; hls_path ./hls; hls_fragment 2; hls_window 30; hls_keys ${keys ? "on" : "off"}; hls_fragments_per_key 2; } }
`;
    const s = await startServer({ config: conf(false) });
    servers.push(s);
    const dir = join(s.dir, "hls", "live");
    const m3u8 = () => (existsSync(join(dir, "r.m3u8")) ? parse(readFileSync(join(dir, "r.m3u8"), "utf8")) : { segs: [], keyLines: [] });
    const pub = publish(clip("clip.flv"), s.rtmpUrl("/live/r"));
    children.push(pub);
    await waitFor("2 clear segments", () => m3u8().segs.length >= 2);
    expect(m3u8().keyLines).toEqual([]);
    await reloadConfig(s, conf(true));
    await waitFor("2 encrypted segments", () => m3u8().segs.filter((x) => x.key).length >= 2);
    const on = m3u8();
    const firstKeyed = on.segs.find((x) => x.key)!;
    // the first encrypted segment starts a key whatever its sequence number
    expect(firstKeyed.key!.uri).toBe(`r-${firstKeyed.seq}.key`);
    await reloadConfig(s, conf(false));
    await waitFor("a clear segment after the encrypted ones", () => {
      const segs = m3u8().segs;
      return segs.length > 0 && !segs[segs.length - 1]!.key && segs.some((x) => x.key);
    });
    expect(m3u8().keyLines.at(-1)).toBe("#EXT-X-KEY:METHOD=NONE");
    // ffmpeg plays the whole mixed playlist (clear, encrypted, clear) from its start: the live m3u8 with an
    // EXT-X-ENDLIST (a live one would start 3 segments from its end)
    const text = readFileSync(join(dir, "r.m3u8"), "utf8");
    expect(parse(text).segs.length).toBeGreaterThanOrEqual(5);
    writeFileSync(join(dir, "all.m3u8"), text + "#EXT-X-ENDLIST\n");
    const r = await playFrames(s.httpUrl("/live/all.m3u8"), 8, 30000);
    expect(r.video).toBeGreaterThanOrEqual(190);
    pub.kill();
  }, 90000);
});
