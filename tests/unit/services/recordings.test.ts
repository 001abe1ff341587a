/**
 * DVR recordings on disk (lib/services/dvr/recordings.ts, duration.ts): the dvr_path template as a regex (its
 * variables give vhost/app/stream and the start), stable ids, and the duration read from an FLV's last tag.
 */
import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordingDurationMs } from "../../../lib/services/dvr/duration.ts";
import { recordingId, templateRegex } from "../../../lib/services/dvr/recordings.ts";
import { tempDir } from "../../helpers/temp.ts";

describe("templateRegex", () => {
  test("variables become groups; literal dots and brackets are escaped", () => {
    const re = templateRegex("/srv/rec/[vhost]/[app]/[stream].[2006][01][02].[timestamp].mp4");
    const m = re.exec("/srv/rec/v1/live/cam.one.20261205.1764972000000.mp4")!;
    expect(m.groups).toMatchObject({ vhost: "v1", app: "live", stream: "cam.one", Y: "2026", M: "12", D: "05", ts: "1764972000000" });
    expect(re.test("/srv/rec/v1/live/cam.20261205.1764972000000.mp4.tmp")).toBe(false);
    expect(re.test("/srv/rec/v1/live/cam.20261205.1764972000000xmp4")).toBe(false);
    // a variable used twice matches the second time without a second group
    expect(templateRegex("/r/[app]/[app]-[stream].flv").exec("/r/live/live-a.flv")!.groups).toMatchObject({ app: "live", stream: "a" });
  });

  test("ids are stable and differ by path", () => {
    expect(recordingId("/a/b.flv")).toBe(recordingId("/a/b.flv"));
    expect(recordingId("/a/b.flv")).not.toBe(recordingId("/a/c.flv"));
    expect(recordingId("/a/b.flv")).toMatch(/^rec-[0-9a-f]{13}$/);
  });
});

describe("recordingDurationMs", () => {
  test("FLV: last tag's timestamp less the first media tag's; garbage is 0", () => {
    const dir = tempDir("srs-rec-");
    const tag = (type: number, ts: number, body: number[]) => {
      const len = body.length;
      const h = [type, (len >> 16) & 255, (len >> 8) & 255, len & 255, (ts >> 16) & 255, (ts >> 8) & 255, ts & 255, (ts >>> 24) & 255, 0, 0, 0];
      const total = 11 + len;
      return [...h, ...body, (total >>> 24) & 255, (total >> 16) & 255, (total >> 8) & 255, total & 255];
    };
    const bytes = [0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0, ...tag(18, 0, [1, 2]), ...tag(9, 1000, [0x17, 0]), ...tag(8, 1500, [0xaf]), ...tag(9, 0x1234567, [0x27])];
    const f = join(dir, "a.flv");
    writeFileSync(f, new Uint8Array(bytes));
    expect(recordingDurationMs(f, "flv")).toBe(0x1234567 - 1000);
    writeFileSync(f, new Uint8Array([1, 2, 3]));
    expect(recordingDurationMs(f, "flv")).toBe(0);
    expect(recordingDurationMs(f, "mp4")).toBe(0);
    expect(recordingDurationMs(join(dir, "missing.mp4"), "mp4")).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
