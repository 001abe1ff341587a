/** Range parsing (RFC 9110 14.1.2), preconditions (13.2.2) and the file body stream over node:fs. */
import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkPreconditions, parseRange } from "../../../lib/net/static-file.ts";
import { fileStream } from "../../../lib/runtime/file-body.ts";
import { tempDir } from "../../helpers/temp.ts";

describe("parseRange", () => {
  test("one range, suffix, open end, clamped end", () => {
    expect(parseRange("bytes=0-0", 100)).toEqual({ start: 0, end: 1 });
    expect(parseRange("bytes=10-19", 100)).toEqual({ start: 10, end: 20 });
    expect(parseRange("Bytes = 10-", 100)).toEqual({ start: 10, end: 100 });
    expect(parseRange("bytes=-30", 100)).toEqual({ start: 70, end: 100 });
    expect(parseRange("bytes=-300", 100)).toEqual({ start: 0, end: 100 });
    expect(parseRange("bytes=90-99999999999999999999", 100)).toEqual({ start: 90, end: 100 });
  });

  test("unsatisfiable: starts at or past the end, zero suffix, empty file", () => {
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=100-200", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-5", 0)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
  });

  test("ignored (whole file): other units, several ranges, bad syntax, last < first", () => {
    for (const h of ["items=0-1", "bytes=0-1,5-6", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-2", "bytes=1.5-2", "0-1"]) {
      expect([h, parseRange(h, 100)]).toEqual([h, undefined]);
    }
  });
});

describe("checkPreconditions", () => {
  const etag = '"abc-10"';
  const mtime = Date.parse("Sat, 05 Dec 2026 10:00:00 GMT") + 400; // sub-second part ignored
  const h = (o: Record<string, string>) => new Headers(o);

  test("If-None-Match: 304 on a match (weak comparison, lists, *)", () => {
    expect(checkPreconditions(h({ "If-None-Match": etag }), etag, mtime)).toBe(304);
    expect(checkPreconditions(h({ "If-None-Match": `W/${etag}` }), etag, mtime)).toBe(304);
    expect(checkPreconditions(h({ "If-None-Match": `"x", ${etag}` }), etag, mtime)).toBe(304);
    expect(checkPreconditions(h({ "If-None-Match": "*" }), etag, mtime)).toBe(304);
    expect(checkPreconditions(h({ "If-None-Match": '"x"' }), etag, mtime)).toBeUndefined();
  });

  test("If-Modified-Since at second resolution, ignored when If-None-Match is present or the date is bad", () => {
    expect(checkPreconditions(h({ "If-Modified-Since": "Sat, 05 Dec 2026 10:00:00 GMT" }), etag, mtime)).toBe(304);
    expect(checkPreconditions(h({ "If-Modified-Since": "Sat, 05 Dec 2026 09:59:59 GMT" }), etag, mtime)).toBeUndefined();
    expect(checkPreconditions(h({ "If-Modified-Since": "Sat, 05 Dec 2026 10:00:00 GMT", "If-None-Match": '"x"' }), etag, mtime)).toBeUndefined();
    expect(checkPreconditions(h({ "If-Modified-Since": "yesterday-ish" }), etag, mtime)).toBeUndefined();
  });

  test("If-Match (strong) and If-Unmodified-Since: 412", () => {
    expect(checkPreconditions(h({ "If-Match": '"x"' }), etag, mtime)).toBe(412);
    expect(checkPreconditions(h({ "If-Match": `W/${etag}` }), etag, mtime)).toBe(412);
    expect(checkPreconditions(h({ "If-Match": etag }), etag, mtime)).toBeUndefined();
    expect(checkPreconditions(h({ "If-Unmodified-Since": "Sat, 05 Dec 2026 09:00:00 GMT" }), etag, mtime)).toBe(412);
    expect(checkPreconditions(h({ "If-Unmodified-Since": "Sat, 05 Dec 2026 10:00:00 GMT" }), etag, mtime)).toBeUndefined();
  });
});

describe("fileStream (the Deno/Node body)", () => {
  test("streams exactly [start, end) in chunks, and errors when the file is shorter than promised", async () => {
    const dir = tempDir("srs-ts-static-");
    try {
      const data = new Uint8Array(600 * 1024).map((_, i) => (i * 7) & 0xff);
      const path = join(dir, "f.bin");
      writeFileSync(path, data);
      const got = new Uint8Array(await new Response(fileStream(path, 1000, 500 * 1024)).arrayBuffer());
      expect(Buffer.from(got).equals(Buffer.from(data.subarray(1000, 500 * 1024)))).toBe(true);
      await expect(new Response(fileStream(path, 0, data.length + 10)).arrayBuffer()).rejects.toThrow(/file ended/);
      await expect(new Response(fileStream(join(dir, "missing"), 0, 10)).arrayBuffer()).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
