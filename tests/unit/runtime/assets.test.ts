import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  assetContentType,
  assetRoot,
  assetsEmbedded,
  getAsset,
  getAssetText,
  listAssets,
  normalizeAssetPath,
  wwwAssetForUrl,
} from "../../../lib/runtime/assets.ts";
import { tempDir } from "../../helpers/temp.ts";

const REPO = resolve(import.meta.dir, "../../..");

describe("assets from source", () => {
  test("are read from the repository, not from a build", () => {
    expect(assetsEmbedded()).toBe(false);
    expect(assetRoot()).toBe(REPO);
  });

  test("getAsset returns the file's bytes", () => {
    const disk = readFileSync(join(REPO, "www/index.html"));
    expect(getAsset("www/index.html")).toEqual(new Uint8Array(disk));
    expect(getAsset("./www/index.html")).toEqual(new Uint8Array(disk));
    expect(getAssetText("www/index.html")).toContain("<title>srs-ts</title>");
  });

  test("missing files and directories are undefined", () => {
    expect(getAsset("www/no-such-file.html")).toBeUndefined();
    expect(getAsset("www")).toBeUndefined();
    expect(getAsset("www/")).toBeUndefined();
  });

  test("paths outside www/ and conf/ are refused", () => {
    for (const bad of [
      "package.json",
      "../package.json",
      "www/../package.json",
      "www/../../etc/passwd",
      "/etc/passwd",
      "/www/index.html",
      "www\\..\\package.json",
      "www/.hidden",
      "www//index.html",
      "lib/runtime/assets.ts",
      "www/index.html\0",
      "",
    ]) {
      expect(normalizeAssetPath(bad)).toBeUndefined();
      expect(getAsset(bad)).toBeUndefined();
    }
    expect(normalizeAssetPath("conf/srs.conf")).toBe("conf/srs.conf");
  });

  test("listAssets lists files under a prefix, sorted", () => {
    const www = listAssets("www/");
    expect(www).toContain("www/index.html");
    expect(www.every((p) => p.startsWith("www/"))).toBe(true);
    expect([...www].sort()).toEqual(www);
    const all = listAssets();
    expect(all).toContain("www/index.html");
    for (const p of all) expect(getAsset(p)).toBeDefined();
    expect(listAssets("nothing/")).toEqual([]);
    expect(listAssets("www/index")).toEqual(["www/index.html"]);
  });

  test("wwwAssetForUrl maps HTTP paths to www/ files", () => {
    expect(wwwAssetForUrl("/")).toBe("www/index.html");
    expect(wwwAssetForUrl("/index.html")).toBe("www/index.html");
    expect(wwwAssetForUrl("/index.html?x=1")).toBe("www/index.html");
    expect(wwwAssetForUrl("/%69ndex.html")).toBe("www/index.html");
    expect(wwwAssetForUrl("/nope.html")).toBeUndefined();
    expect(wwwAssetForUrl("/../package.json")).toBeUndefined();
    expect(wwwAssetForUrl("/%2e%2e/package.json")).toBeUndefined();
    expect(wwwAssetForUrl("/%E0%A4%A")).toBeUndefined();
    expect(wwwAssetForUrl("index.html")).toBeUndefined();
  });

  test("content types by extension", () => {
    expect(assetContentType("www/index.html")).toBe("text/html; charset=utf-8");
    expect(assetContentType("www/players/js/hls.min.js")).toBe("text/javascript; charset=utf-8");
    expect(assetContentType("www/a.CSS")).toBe("text/css; charset=utf-8");
    expect(assetContentType("conf/srs.conf")).toBe("text/plain; charset=utf-8");
    expect(assetContentType("www/favicon.ico")).toBe("image/x-icon");
    expect(assetContentType("live/s.m3u8")).toBe("application/vnd.apple.mpegurl");
    expect(assetContentType("www/README")).toBe("application/octet-stream");
    expect(assetContentType("www/.x/file.unknownext")).toBe("application/octet-stream");
  });

  test("the location does not depend on the process cwd", () => {
    const dir = tempDir("srs-assets-");
    try {
      const mod = JSON.stringify(join(REPO, "lib/runtime/assets.ts"));
      const code = `const a = await import(${mod}); console.log(a.getAsset("www/index.html")?.length, a.listAssets("www/").includes("www/index.html"));`;
      const r = spawnSync(process.execPath, ["-e", code], { cwd: dir, encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(`${readFileSync(join(REPO, "www/index.html")).length} true`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
