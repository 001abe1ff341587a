import { describe, expect, test } from "bun:test";
import { diffConfig } from "../../../lib/config/diff.ts";
import { loadConfig } from "../../../lib/config/index.ts";
import { applied, failed, mergeOutcomes, needsRestart, outcomeLine } from "../../../lib/reload/handler.ts";

const load = (text: string) => loadConfig({ text, env: {} });

describe("reload outcomes", () => {
  const a = load("listen 1935; http_api { enabled on; listen 1985; } vhost v { hls { enabled on; } }");
  const b = load("listen 1936; pid ./x.pid; http_api { enabled on; listen 1986; crossdomain off; } vhost v { hls { enabled on; hls_fragment 4; } }");
  const diff = diffConfig(a, b);

  test("one line per change; a change nobody took needs a restart", () => {
    const merged = mergeOutcomes(diff, [
      applied("listen", "rtmp +1936 -1935"),
      applied("http_api listen"),
      applied("http_api crossdomain"),
      applied("vhost v hls", "fragment"),
    ]);
    expect(merged.map(outcomeLine)).toEqual([
      "reload: listen applied (rtmp +1936 -1935)",
      "reload: pid changed, needs a restart (not reloadable in srs-ts)",
      "reload: http_api listen applied",
      "reload: http_api crossdomain applied",
      "reload: vhost v hls applied (fragment)",
    ]);
  });

  test("two handlers on one change give one line: restart or failure wins, notes joined", () => {
    const merged = mergeOutcomes(diff, [
      applied("listen", "a"),
      needsRestart("listen", "b"),
      needsRestart("pid"),
      applied("http_api"),
      applied("vhost v hls"),
    ]);
    expect(merged.find((o) => o.what === "listen")).toEqual({ what: "listen", result: "restart", note: "a; b" });
    expect(merged.filter((o) => o.what === "listen")).toHaveLength(1);
  });

  test("a handler failing as a whole is reported", () => {
    const merged = mergeOutcomes(diff, [failed("rtc", "boom")]);
    expect(merged.map(outcomeLine)).toContain("reload: rtc failed (boom)");
  });
});
