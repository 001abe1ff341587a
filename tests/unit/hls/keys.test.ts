/** HLS AES-128 (hls_keys): key rotation, URIs, EXT-X-KEY lines in the playlist, segment encryption (pure, no IO). */
import { describe, expect, test } from "bun:test";
import { createDecipheriv, randomBytes } from "node:crypto";
import { keyTag, keyUri, newKeyBytes, SegmentCipher, startsNewKey } from "../../../lib/protocols/hls/keys.ts";
import { addQueryToUris, type PlaylistEntry, renderPlaylist } from "../../../lib/protocols/hls/playlist.ts";

const iv = (n: number) => new Uint8Array(16).fill(n);
const entry = (seq: number, key?: PlaylistEntry["key"], map?: string): PlaylistEntry => ({
  seq, duration: 2, uri: `s-${seq}.ts`, file: `/x/s-${seq}.ts`, url: `live/s-${seq}.ts`, discontinuity: false, key, map,
});

describe("hls keys", () => {
  test("a new key every fragments_per_key sequence numbers, and whenever none is in force", () => {
    const k = { ...newKeyBytes(), seq: 0, file: "f", uri: "u" };
    expect([0, 1, 2, 3, 4, 5].map((s) => startsNewKey(s, 3, k))).toEqual([true, false, false, true, false, false]);
    expect(startsNewKey(7, 3, undefined)).toBe(true);
    expect(startsNewKey(7, 0, k)).toBe(true); // 0 means every segment, never a division by zero
    const a = newKeyBytes();
    const b = newKeyBytes();
    expect(a.key.length).toBe(16);
    expect(a.iv.length).toBe(16);
    expect(Buffer.from(a.key).equals(Buffer.from(b.key))).toBe(false);
  });

  test("key URIs: hls_key_url + the key file, else relative to the m3u8", () => {
    expect(keyUri("", "live/s-5.key", "s-5.key")).toBe("s-5.key");
    expect(keyUri("https://keys.example.com", "live/s-5.key", "s-5.key")).toBe("https://keys.example.com/live/s-5.key");
    expect(keyUri("https://keys.example.com/k/", "/live/s-5.key", "s-5.key")).toBe("https://keys.example.com/k/live/s-5.key");
  });

  test("EXT-X-KEY (RFC 8216 4.3.2.4): AES-128, quoted URI, IV as a 0x-prefixed 128-bit hex integer", () => {
    expect(keyTag("s-0.key", Uint8Array.from({ length: 16 }, (_v, i) => i * 17))).toBe(
      '#EXT-X-KEY:METHOD=AES-128,URI="s-0.key",IV=0x00112233445566778899AABBCCDDEEFF',
    );
  });

  test("the playlist names a key before the first listed segment and wherever it changes", () => {
    const k0 = { uri: "s-0.key", iv: iv(1), file: "/x/s-0.key" };
    const k2 = { uri: "s-2.key", iv: iv(2), file: "/x/s-2.key" };
    // The window dropped segment 0: segment 1 still gets k0's line.
    const text = renderPlaylist([entry(1, k0), entry(2, k2), entry(3, k2)], 2);
    expect(text.split("\n").slice(4)).toEqual([
      `#EXT-X-KEY:METHOD=AES-128,URI="s-0.key",IV=0x${"01".repeat(16)}`, "#EXTINF:2.000, no desc", "s-1.ts",
      `#EXT-X-KEY:METHOD=AES-128,URI="s-2.key",IV=0x${"02".repeat(16)}`, "#EXTINF:2.000, no desc", "s-2.ts",
      "#EXTINF:2.000, no desc", "s-3.ts", "",
    ]);
    // hls_ctx: the key URI gets the session too.
    expect(addQueryToUris(text, "hls_ctx=x")).toContain('URI="s-0.key?hls_ctx=x"');
  });

  test("keys turned off (reload): METHOD=NONE before the clear segments; no key line without keys", () => {
    const k0 = { uri: "s-0.key", iv: iv(1), file: "/x/s-0.key" };
    const lines = renderPlaylist([entry(0, k0), entry(1)], 2).split("\n");
    expect(lines.filter((l) => l.startsWith("#EXT-X-KEY"))).toEqual([expect.stringContaining("s-0.key"), "#EXT-X-KEY:METHOD=NONE"]);
    expect(renderPlaylist([entry(0), entry(1)], 2)).not.toContain("#EXT-X-KEY");
  });

  test("fMP4: EXT-X-MAP comes before the key (the init segment is clear); a new map suspends the key", () => {
    const k0 = { uri: "s-0.key", iv: iv(1), file: "/x/s-0.key" };
    const lines = renderPlaylist([entry(0, k0, "s/init.mp4"), entry(1, k0, "s/init.mp4"), entry(2, k0, "s/init2.mp4")], 2)
      .split("\n").filter((l) => l.startsWith("#EXT-X-MAP") || l.startsWith("#EXT-X-KEY") || l.startsWith("s-"));
    expect(lines.map((l) => l.replace(/,IV=.*/, ""))).toEqual([
      '#EXT-X-MAP:URI="s/init.mp4"', '#EXT-X-KEY:METHOD=AES-128,URI="s-0.key"', "s-0.ts", "s-1.ts",
      "#EXT-X-KEY:METHOD=NONE", '#EXT-X-MAP:URI="s/init2.mp4"', '#EXT-X-KEY:METHOD=AES-128,URI="s-0.key"', "s-2.ts",
    ]);
  });

  test("a segment encrypted chunk by chunk decrypts (AES-128-CBC, PKCS7) to the same bytes", () => {
    for (const size of [0, 1, 15, 16, 17, 188 * 7, 100_003]) {
      const clear = new Uint8Array(randomBytes(size));
      const { key, iv: v } = newKeyBytes();
      const c = new SegmentCipher(key, v);
      const out: Uint8Array[] = [];
      for (let o = 0; o < size; o += 1000) out.push(c.update(clear.subarray(o, o + 1000)));
      out.push(c.final());
      const enc = Buffer.concat(out);
      expect(enc.length).toBe((Math.floor(size / 16) + 1) * 16); // PKCS7 always pads, a full block when aligned
      const d = createDecipheriv("aes-128-cbc", key, v);
      expect(Buffer.concat([d.update(enc), d.final()]).equals(Buffer.from(clear))).toBe(true);
    }
  });
});
