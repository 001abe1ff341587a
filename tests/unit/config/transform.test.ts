import { describe, expect, test } from "bun:test";
import { loadConfig, parseConfText, transformConfig } from "../../../lib/config/index.ts";
import { type Shape, shape } from "./helpers.ts";

function transformed(text: string): Shape[] {
  const root = parseConfText(text);
  transformConfig(root);
  return shape(root);
}

const cases: [string, string, Shape[]][] = [
  ["http_stream → http_server", "http_stream { enabled on; listen 8080; }", [["http_server", ["enabled on", "listen 8080"]]]],
  ["vhost http → http_static", "vhost v { http { enabled on; mount [vhost]/hls; } }", [["vhost v", [["http_static", ["enabled on", "mount [vhost]/hls"]]]]]],
  [
    "refer forms → refer{}",
    "vhost v { refer a.com b.com; refer_publish p.com; refer_play q.com; }",
    [["vhost v", [["refer", ["enabled on", "all a.com b.com", "publish p.com", "play q.com"]]]]],
  ],
  ["new-style refer untouched", "vhost v { refer { enabled off; all x; } }", [["vhost v", [["refer", ["enabled off", "all x"]]]]]],
  ["mr{} → publish{mr; mr_latency}", "vhost v { mr { enabled on; latency 350; } }", [["vhost v", [["publish", ["mr on", "mr_latency 350"]]]]]],
  [
    "publish timeouts",
    "vhost v { publish_1stpkt_timeout 20000; publish_normal_timeout 7000; }",
    [["vhost v", [["publish", ["firstpkt_timeout 20000", "normal_timeout 7000"]]]]],
  ],
  [
    "timeouts merge into an existing publish{}",
    "vhost v { publish { parse_sps on; } publish_normal_timeout 7000; }",
    [["vhost v", [["publish", ["parse_sps on", "normal_timeout 7000"]]]]],
  ],
  [
    "top-level play keys → play{}",
    "vhost v { time_jitter full; mix_correct off; atc on; atc_auto on; mw_latency 100; gop_cache off; queue_length 10; send_min_interval 10.0; reduce_sequence_header on; gop_cache_max_frames 10; }",
    [
      [
        "vhost v",
        [
          [
            "play",
            [
              "time_jitter full",
              "mix_correct off",
              "atc on",
              "atc_auto on",
              "mw_latency 100",
              "gop_cache off",
              "queue_length 10",
              "send_min_interval 10.0",
              "reduce_sequence_header on",
              "gop_cache_max_frames 10",
            ],
          ],
        ],
      ],
    ],
  ],
  ["forward a b", "vhost v { forward 127.0.0.1:1936 127.0.0.1:1937; }", [["vhost v", [["forward", ["enabled on", "destination 127.0.0.1:1936 127.0.0.1:1937"]]]]]],
  ["forward block untouched", "vhost v { forward { enabled off; } }", [["vhost v", [["forward", ["enabled off"]]]]]],
  [
    "cluster keys",
    "vhost v { mode remote; origin a:1935 b:1935; token_traverse off; vhost same.edge; debug_srs_upnode off; }",
    [["vhost v", [["cluster", ["mode remote", "origin a:1935 b:1935", "token_traverse off", "vhost same.edge", "debug_srs_upnode off"]]]]],
  ],
  [
    "nack/twcc → rtc",
    "vhost v { nack { enabled on; no_copy off; } twcc { enabled off; } }",
    [["vhost v", [["rtc", ["nack on", "nack_no_copy off", "twcc off"]]]]],
  ],
  ["rtc aac transcode → rtmp_to_rtc on", "vhost v { rtc { enabled on; aac transcode; } }", [["vhost v", [["rtc", ["enabled on", "rtmp_to_rtc on"]]]]]],
  ["rtc aac discard → rtmp_to_rtc off", "vhost v { rtc { aac discard; } }", [["vhost v", [["rtc", ["rtmp_to_rtc off"]]]]]],
  ["rtc bframe discard → keep_bframe off", "vhost v { rtc { bframe discard; } }", [["vhost v", [["rtc", ["keep_bframe off"]]]]]],
  ["http_remux hstrs dropped", "vhost v { http_remux { enabled on; hstrs on; } }", [["vhost v", [["http_remux", ["enabled on"]]]]]],
  ["srt tlpkdrop → tlpktdrop", "srt_server { tlpkdrop off; }", [["srt_server", ["tlpktdrop off"]]]],
  ["removed rtc_server keys", "rtc_server { enabled on; perf_stat on; queue_length 10; }", [["rtc_server", ["enabled on"]]]],
  [
    "old gb28181 keys dropped",
    "stream_caster { caster gb28181; tcp_enable on; rtp_port_min 1; rtp_port_max 2; wait_keyframe on; rtp_idle_timeout 3; audio_enable on; auto_create_channel on; sip { enabled on; serial x; realm y; ack_timeout 1; keepalive_timeout 2; invite_port_fixed on; query_catalog_interval 3; auto_play on; } }",
    [["stream_caster", ["caster gb28181", ["sip", ["enabled on"]]]]],
  ],
  [
    "gb host → sip.candidate",
    "stream_caster { caster gb28181; host 1.2.3.4; }",
    [["stream_caster", ["caster gb28181", ["sip", ["candidate 1.2.3.4"]]]]],
  ],
  ["non-legacy configs untouched", "listen 1935; vhost v { play { gop_cache off; } }", ["listen 1935", ["vhost v", [["play", ["gop_cache off"]]]]]],
];

describe("transform: SRS legacy rewrites", () => {
  for (const [name, text, want] of cases) {
    test(name, () => {
      expect(transformed(text)).toEqual(want);
    });
  }

  test("created blocks keep the source location", () => {
    const root = parseConfText("vhost v {\n  gop_cache off;\n}\n", "x.conf");
    transformConfig(root);
    const play = root.children[0]?.children[0];
    expect(play?.name).toBe("play");
    expect(play?.line).toBe(2);
    expect(play?.file).toBe("x.conf");
  });

  test("legacy config loads and reads through the accessors", () => {
    const cfg = loadConfig({
      text: `listen 1935; http_stream { enabled on; listen 8081; }
        vhost __defaultVhost__ { gop_cache off; queue_length 10; mr { enabled on; latency 200; } publish_1stpkt_timeout 1000;
          forward 127.0.0.1:1936; mode remote; origin 127.0.0.1:19350; refer github.com; nack { enabled off; } }`,
      env: {},
    });
    expect(cfg.httpServer()).toMatchObject({ enabled: true, listen: "8081" });
    const v = cfg.vhost("any")!;
    expect(v.play.gopCache).toBe(false);
    expect(v.play.queueLength).toBe(10);
    expect(v.publish).toMatchObject({ mr: true, mrLatency: 200, firstpktTimeout: 1000 });
    expect(v.forward).toEqual({ enabled: true, destination: ["127.0.0.1:1936"], backend: "" });
    expect(v.cluster).toMatchObject({ mode: "remote", isEdge: true, origin: ["127.0.0.1:19350"] });
    expect(v.refer).toEqual({ enabled: true, all: ["github.com"], publish: [], play: [] });
    expect(v.rtc.nack).toBe(false);
    expect(cfg.notes.length).toBeGreaterThan(5);
  });
});
