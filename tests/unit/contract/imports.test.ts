/**
 * The dependency rules of the contract between the core and its adapters, checked on the source: protocols never
 * import each other nor services, services import no protocol, the core (hub, media, formats, net, outputs)
 * imports neither, and no module under lib/ but the composition root (lib/server.ts) imports lib/server.ts.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../../helpers/media.ts";

const LIB = join(REPO_ROOT, "lib");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every relative import/export-from of a file, as lib-relative paths ("protocols/rtmp/session.ts"). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/gms)) {
    out.push(relative(LIB, resolve(dirname(file), m[1]!)).split("\\").join("/"));
  }
  return out;
}

/** lib/protocols/rtmp/x.ts -> ["protocols", "rtmp"]; lib/hub/x.ts -> ["hub"]; lib/server.ts -> ["server.ts"]. */
function area(libPath: string): string[] {
  return libPath.split("/").slice(0, -1).concat(libPath.includes("/") ? [] : [libPath]);
}

const edges = sources(LIB).flatMap((f) => {
  const from = relative(LIB, f).split("\\").join("/");
  return importsOf(f).map((to) => ({ from, to }));
});

describe("contract: who may import whom", () => {
  test("the scan sees the imports (a broken scan would pass everything)", () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: "server.ts", to: "hub/registry.ts" });
    expect(edges.some((e) => e.from.startsWith("protocols/rtmp/") && e.to.startsWith("protocols/rtmp/"))).toBe(true);
  });

  test("protocols never import another protocol, nor a service", () => {
    const bad = edges.filter(({ from, to }) => {
      const [fa, fp] = area(from);
      const [ta, tp] = area(to);
      return fa === "protocols" && ((ta === "protocols" && fp !== tp) || ta === "services");
    });
    expect(bad).toEqual([]);
  });

  test("services and the core (hub, media, formats, net, outputs) import no protocol", () => {
    const core = new Set(["services", "hub", "media", "formats", "net", "outputs", "log", "runtime"]);
    const bad = edges.filter(({ from, to }) => core.has(area(from)[0]!) && area(to)[0] === "protocols");
    expect(bad).toEqual([]);
  });

  test("the core imports no service", () => {
    const core = new Set(["hub", "media", "formats", "net", "outputs"]);
    const bad = edges.filter(({ from, to }) => core.has(area(from)[0]!) && area(to)[0] === "services");
    expect(bad).toEqual([]);
  });

  test("only the composition root imports lib/server.ts", () => {
    expect(edges.filter(({ from, to }) => to === "server.ts" && from !== "server.ts")).toEqual([]);
  });
});
