import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../../lib/config/index.ts";
import { DEFAULT_CONFIG_TEXT } from "../../../lib/config/default.ts";
import { OnDemand, usesAudioBridge, usesDash, usesDvr, usesFfmpeg, usesForward } from "../../../lib/services/on-demand.ts";

const conf = (vhosts: string, env: Record<string, string> = {}) => loadConfig({ text: `listen 1935;\n${vhosts}\n`, env });
const uses = (vhosts: string, env: Record<string, string> = {}) => {
  const c = conf(vhosts, env);
  return { dvr: usesDvr(c), dash: usesDash(c), forward: usesForward(c), ffmpeg: usesFfmpeg(c), bridge: usesAudioBridge(c) };
};
const NONE = { dvr: false, dash: false, forward: false, ffmpeg: false, bridge: false };

describe("which services a config uses", () => {
  test("none: no vhost, an empty vhost, blocks present but off", () => {
    expect(uses("")).toEqual(NONE);
    expect(uses("vhost __defaultVhost__ {}")).toEqual(NONE);
    expect(uses(`vhost v { dvr { enabled off; } dash { enabled off; } forward { enabled off; destination 127.0.0.1:1936; }
      exec { enabled off; publish ./x; } transcode live { enabled off; } ingest cam { enabled off; }
      rtc { enabled on; rtmp_to_rtc off; rtc_to_rtmp off; } }`)).toEqual(NONE);
  });

  test("each one, on any vhost (the second one here)", () => {
    const on = (block: string) => uses(`vhost a {}\nvhost b { ${block} }`);
    expect(on("dvr { enabled on; }")).toEqual({ ...NONE, dvr: true });
    expect(on("dash { enabled on; }")).toEqual({ ...NONE, dash: true });
    expect(on("forward { enabled on; destination 127.0.0.1:1936; }")).toEqual({ ...NONE, forward: true });
    expect(on("forward { enabled on; backend http://127.0.0.1:8085/api/v1/forward; }")).toEqual({ ...NONE, forward: true });
    expect(on("exec { enabled on; publish ./x; }")).toEqual({ ...NONE, ffmpeg: true });
    expect(on("transcode live { enabled on; ffmpeg ffmpeg; }")).toEqual({ ...NONE, ffmpeg: true });
    expect(on("ingest cam { enabled on; input { type file; url a.flv; } }")).toEqual({ ...NONE, ffmpeg: true });
    expect(on("rtc { rtmp_to_rtc on; }")).toEqual({ ...NONE, bridge: true });
    expect(on("rtc { rtc_to_rtmp on; }")).toEqual({ ...NONE, bridge: true });
  });

  test("the audio bridge per vhost: the vhost's rtc block, else the default vhost's", () => {
    const c = conf("vhost __defaultVhost__ { rtc { rtc_to_rtmp on; } }\nvhost quiet { }\nvhost loud { rtc { rtmp_to_rtc on; } }");
    expect(usesAudioBridge(c, "loud")).toBe(true);
    expect(usesAudioBridge(c, "quiet")).toBe(false);
    expect(usesAudioBridge(c, "unknown.test")).toBe(true);
    expect(usesAudioBridge(conf("vhost quiet { }"), "unknown.test")).toBe(false);
  });

  test("env overrides count (SRS_VHOST_*)", () => {
    expect(uses("vhost __defaultVhost__ {}", { SRS_VHOST_DVR_ENABLED: "on" }).dvr).toBe(true);
    expect(uses("vhost __defaultVhost__ {}", { SRS_VHOST_DASH_ENABLED: "on" }).dash).toBe(true);
  });

  test("the built-in default config uses only the audio bridge (rtmp_to_rtc and rtc_to_rtmp on)", () => {
    const c = loadConfig({ text: DEFAULT_CONFIG_TEXT, env: {} });
    expect({ dvr: usesDvr(c), dash: usesDash(c), forward: usesForward(c), ffmpeg: usesFfmpeg(c), bridge: usesAudioBridge(c) })
      .toEqual({ ...NONE, bridge: true });
  });
});

describe("OnDemand", () => {
  test("loads once when wanted, however many ask at once; never when not wanted", async () => {
    let loads = 0;
    const d = new OnDemand<{ n: number }, boolean>({
      name: "x",
      wanted: (want) => want,
      load: async () => {
        await Bun.sleep(5);
        return { n: ++loads };
      },
    });
    expect(await d.ensure(false)).toBeUndefined();
    expect(d.current()).toBeUndefined();
    expect(loads).toBe(0);
    const [a, b] = await Promise.all([d.ensure(true), d.ensure(true)]);
    expect(a).toBe(b!);
    expect(loads).toBe(1);
    // Once loaded it stays, whatever later configs want.
    expect(await d.ensure(false)).toBe(a!);
    expect(d.current()).toBe(a!);
  });

  test("a failed load says which service and is tried again next time", async () => {
    let fail = true;
    const d = new OnDemand<string, boolean>({
      name: "dvr",
      wanted: () => true,
      load: async () => {
        if (fail) throw new Error("no chunk");
        return "ok";
      },
    });
    await expect(d.ensure(true)).rejects.toThrow("dvr: cannot load: no chunk");
    expect(d.current()).toBeUndefined();
    fail = false;
    expect(await d.ensure(true)).toBe("ok");
  });
});
