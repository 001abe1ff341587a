import { describe, expect, test } from "bun:test";
import { diffConfig } from "../../../lib/config/diff.ts";
import { loadConfig } from "../../../lib/config/index.ts";
import type { StreamHub } from "../../../lib/hub/stream-hub.ts";
import { outcomeLine } from "../../../lib/reload/handler.ts";
import { liveStreamsReload } from "../../../lib/reload/live-streams.ts";

const load = (text: string) => loadConfig({ text, env: {} });

describe("liveStreamsReload", () => {
  const old = load("listen 1935; vhost v { hls { enabled on; } dvr { enabled on; } }");
  const next = load("listen 1935; vhost v { hls { enabled on; hls_fragment 4; } dvr { enabled on; dvr_path ./x.flv; } }");
  const e = { old, next, diff: diffConfig(old, next) };
  const hub = (name: string, active = true) => ({ name, active }) as unknown as StreamHub;
  const hubs = { ofVhost: () => [hub("a"), hub("b"), hub("c"), hub("d"), hub("idle", false)] };
  const answers: Record<string, "switching" | "started" | "stopped" | "none"> = { a: "switching", b: "switching", c: "started", d: "none" };

  test("counts what the active streams did, the service's own answer first", async () => {
    const h = liveStreamsReload({ hubs }, "hls", () => ({ reload: (x: StreamHub) => answers[x.name]! }), {
      result: "switching", note: (n) => `${n} live streams switch at their next keyframe`,
    });
    expect(h.name).toBe("hls");
    expect((await h.reload(e)).map(outcomeLine)).toEqual([
      "reload: vhost v hls applied (fragment; 2 live streams switch at their next keyframe, 1 started)",
    ]);
  });

  test("no service, or no live stream touched: next publish", async () => {
    const h = liveStreamsReload({ hubs }, "dvr", () => undefined, { result: "restarted", note: (n) => `${n} restarted` });
    expect((await h.reload(e)).map(outcomeLine)).toEqual(["reload: vhost v dvr applied (path; next publish)"]);
  });
});
