import { describe, expect, test } from "bun:test";
import { changeNames, diffConfig, vhostChanges } from "../../../lib/config/diff.ts";
import { loadConfig } from "../../../lib/config/index.ts";

const load = (text: string) => loadConfig({ text, env: {} });

const BASE = `
listen 1935;
max_connections 1000;
http_api { enabled on; listen 1985; raw_api { enabled on; allow_reload on; } }
http_server { enabled on; listen 8080; dir ./objs/nginx/html; }
vhost __defaultVhost__ {
  hls { enabled on; hls_fragment 2; hls_window 10; }
  play { gop_cache on; }
}
vhost a.com { forward { enabled on; destination 127.0.0.1:19350; } }
vhost off.com { enabled off; }
`;

describe("config diff", () => {
  test("the same text is no change; a change to a default value is none either", () => {
    expect(changeNames(diffConfig(load(BASE), load(BASE)))).toEqual([]);
    const same = BASE.replace("hls_window 10;", "hls_window 10; hls_td_ratio 1.0;");
    expect(changeNames(diffConfig(load(BASE), load(same)))).toEqual([]);
  });

  test("order of directives and comments do not count", () => {
    const reordered = BASE.replace("max_connections 1000;", "") + "\n# a comment\nmax_connections 1000;\n";
    expect(changeNames(diffConfig(load(BASE), load(reordered)))).toEqual([]);
  });

  test("listen with several ports, and the fields of a changed section", () => {
    const d = diffConfig(load(BASE), load(BASE.replace("listen 1935;", "listen 1935 1936;").replace("listen 8080;", "listen 8081; crossdomain off;")));
    expect(d.global).toEqual([
      { section: "listen", keys: [] },
      { section: "http_server", keys: ["crossdomain", "listen", "listens"] },
    ]);
  });

  test("vhosts added, removed, enabled and disabled", () => {
    const next = BASE.replace("vhost a.com { forward { enabled on; destination 127.0.0.1:19350; } }", "vhost b.com {}")
      .replace("vhost off.com { enabled off; }", "vhost off.com { enabled on; }");
    const d = diffConfig(load(BASE), load(next));
    expect(d.vhostsAdded.sort()).toEqual(["b.com", "off.com"]);
    expect(d.vhostsRemoved).toEqual(["a.com"]);
    expect(d.vhostsChanged).toEqual([]);
    expect(changeNames(d)).toContain("vhost a.com removed");
    const back = diffConfig(load(next), load(BASE));
    expect(back.vhostsRemoved.sort()).toEqual(["b.com", "off.com"]);
    expect(back.vhostsAdded).toEqual(["a.com"]);
  });

  test("a changed vhost names its sections and fields", () => {
    const next = BASE.replace("hls_fragment 2;", "hls_fragment 4;").replace("gop_cache on;", "gop_cache off;")
      .replace("127.0.0.1:19350", "127.0.0.1:19351");
    const d = diffConfig(load(BASE), load(next));
    expect(changeNames(d)).toEqual(["vhost __defaultVhost__ play", "vhost __defaultVhost__ hls", "vhost a.com forward"]);
    expect(vhostChanges(d, "hls")).toEqual([{ vhost: "__defaultVhost__", change: { section: "hls", keys: ["fragment"] } }]);
    expect(vhostChanges(d, "play")[0]!.change.keys).toEqual(["gopCache"]);
  });

  test("directives no accessor covers are still compared", () => {
    const d = diffConfig(load(BASE), load(BASE + "\ninotify_auto_reload on;\n"));
    expect(changeNames(d)).toEqual(["inotify_auto_reload"]);
  });

  test("env overrides count: the resolved value is compared", () => {
    const a = loadConfig({ text: BASE, env: { SRS_LISTEN: "1940" } });
    const b = loadConfig({ text: BASE.replace("listen 1935;", "listen 1936;"), env: { SRS_LISTEN: "1940" } });
    expect(changeNames(diffConfig(a, b))).toEqual([]);
  });
});
