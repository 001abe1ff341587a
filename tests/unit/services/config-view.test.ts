/**
 * The console's config view (lib/services/api/config-view.ts): secrets masked in directives, URLs and env.
 */
import { describe, expect, test } from "bun:test";
import { newDirective } from "../../../lib/config/parser.ts";
import { configText, envOverrides, maskValue } from "../../../lib/services/api/config-view.ts";

describe("config view", () => {
  test("URL passwords and secret query values are masked, the rest kept", () => {
    expect(maskValue("rtmp://user:pw@host:1935/live")).toBe("rtmp://user:****@host:1935/live");
    expect(maskValue("http://h/x?token=a&b=2&secret=c")).toBe("http://h/x?token=****&b=2&secret=****");
    expect(maskValue("srt://h:10080?streamid=live&passphrase=x")).toBe("srt://h:10080?streamid=live&passphrase=****");
    expect(maskValue("./objs/nginx/html")).toBe("./objs/nginx/html");
  });

  test("directives print in SRS syntax with secret arguments masked", () => {
    const root = newDirective("root", [], "", 0, [
      newDirective("listen", ["1935"]),
      newDirective("http_api", [], "", 0, [newDirective("auth", [], "", 0, [newDirective("username", ["admin"]), newDirective("password", ["pw"])])]),
      newDirective("srt_server", [], "", 0, [newDirective("passphrase", ["secret phrase"])]),
      newDirective("vhost", ["a b"], "", 0, [newDirective("http_hooks", [], "", 0, [newDirective("on_publish", ["http://h/p?token=t"])])]),
    ]);
    expect(configText(root)).toBe(`listen 1935;
http_api {
    auth {
        username admin;
        password ****;
    }
}
srt_server {
    passphrase ****;
}
vhost "a b" {
    http_hooks {
        on_publish http://h/p?token=****;
    }
}
`);
  });

  test("SRS_* env overrides only, secret-like names masked", () => {
    expect(envOverrides({ PATH: "/bin", SRS_HTTP_API_AUTH_PASSWORD: "pw", SRS_LISTEN: "1935", SRS_SRT_SERVER_PASSPHRASE: "x" })).toEqual([
      { name: "SRS_HTTP_API_AUTH_PASSWORD", value: "****" },
      { name: "SRS_LISTEN", value: "1935" },
      { name: "SRS_SRT_SERVER_PASSPHRASE", value: "****" },
    ]);
  });
});
