/**
 * The standalone executables that build.ts makes: each is copied ALONE into an empty folder and must still
 * print its version, check a config, and serve the embedded home page. The arm64 one runs under qemu-user.
 * A binary in dist/ newer than every build input is reused; otherwise `bun build.ts --targets T` makes it.
 */
import { describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { listAssets } from "../../lib/runtime/assets.ts";
import { VERSION } from "../../lib/version.ts";
import { freePort, freeUdpPort } from "../helpers/ports.ts";
import { aloneInEmptyDir, builtBinary as binary } from "../helpers/binary.ts";
import { tempDir } from "../helpers/temp.ts";
import { clip } from "../helpers/media.ts";
import { publish } from "../helpers/server.ts";
import { waitFor } from "../helpers/wait.ts";
import { whepViewer } from "../helpers/whep.ts";

const REPO = resolve(import.meta.dir, "../..");
const QEMU_LIBS = "/usr/aarch64-linux-gnu";
const SLOW = 300_000; // a test may have to compile a binary first (~1–20 s; the first cross-build also downloads)

/**
 * Starts the binary alone in an empty folder with no arguments (its built-in default config) on free ports, in the
 * foreground (SRS's default config says daemon on), with `env` added; collects what it prints.
 */
async function startAlone(env: Record<string, string> = {}) {
  const { dir } = aloneInEmptyDir(binary("linux-x64"));
  const [rtmp, api, http, rtc, srt] = [await freePort(), await freePort(), await freePort(), await freeUdpPort(), await freeUdpPort()];
  let out = "";
  const child = spawn("./srs", [], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env, NO_COLOR: "1", SRS_DAEMON: "off",
      SRS_LISTEN: String(rtmp), SRS_HTTP_API_LISTEN: String(api), SRS_HTTP_SERVER_LISTEN: String(http),
      SRS_RTC_SERVER_LISTEN: String(rtc), SRS_SRT_SERVER_LISTEN: String(srt), ...env,
    },
  });
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { dir, child, ports: { rtmp, api, http }, output: () => out };
}

const CONFIG = `# written by tests/e2e/binary.test.ts
listen              1935;
max_connections     1000;
daemon              off;
srs_log_tank        console;
http_api {
    enabled         on;
    listen          1985;
}
http_server {
    enabled         on;
    listen          8080;
    dir             ./objs/nginx/html;
}
vhost __defaultVhost__ {
}
`;

function requireTool(tool: string, aptPackage: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${tool} is missing: apt-get install -y ${aptPackage}`);
}

function run(cmd: string, args: string[], cwd: string) {
  return spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } });
}

function exited(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | "timeout"> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => {
    const timer = setTimeout(() => res("timeout"), ms);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      res({ code, signal });
    });
  });
}

describe("linux-x64 binary, alone in an empty folder", () => {
  test("is an x86-64 ELF executable", () => {
    requireTool("file", "file");
    const r = run("file", ["-b", binary("linux-x64")], REPO);
    expect(r.stdout).toMatch(/^ELF 64-bit LSB .*x86-64/);
  }, SLOW);

  test("-v prints the version", () => {
    const { dir } = aloneInEmptyDir(binary("linux-x64"));
    try {
      const r = run("./srs", ["-v"], dir);
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(VERSION);
      expect(r.status).toBe(0);
      expect(readdirSync(dir)).toEqual(["srs"]); // wrote nothing beside itself
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);

  test("-t -c checks a config file: 0 when valid, non-zero when not", () => {
    const { dir } = aloneInEmptyDir(binary("linux-x64"));
    try {
      writeFileSync(join(dir, "srs.conf"), CONFIG);
      const ok = run("./srs", ["-t", "-c", "srs.conf"], dir);
      expect({ status: ok.status, output: `${ok.stdout}${ok.stderr}` }).toMatchObject({ status: 0 });
      writeFileSync(join(dir, "broken.conf"), "listen 1935;\nvhost __defaultVhost__ {\n");
      const bad = run("./srs", ["-t", "-c", "broken.conf"], dir);
      expect(bad.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);

  test("with no arguments serves the embedded home page on GET /, and quits on SIGTERM", async () => {
    const { dir, child, ports: { http }, output } = await startAlone();
    try {
      let res: Response | undefined;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        try {
          res = await fetch(`http://127.0.0.1:${http}/`, { signal: AbortSignal.timeout(2000) });
          break;
        } catch {
          await Bun.sleep(100);
        }
      }
      if (!res) throw new Error(`no HTTP answer on port ${http} (exit ${child.exitCode ?? child.signalCode ?? "none"}); output:\n${output()}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type") ?? "").toStartWith("text/html");
      expect(await res.text()).toBe(readFileSync(join(REPO, "www/index.html"), "utf8"));

      child.kill("SIGTERM");
      const end = await exited(child, 10_000);
      if (end === "timeout") throw new Error(`still running 10 s after SIGTERM; output:\n${output()}`);
      // Either a handler that exits (0) or the default action (killed by SIGTERM) is a quit.
      expect(end.code === 0 || end.signal === "SIGTERM").toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("WebRTC in the binary", () => {
  test("an RTMP-published clip plays by WHEP from the binary (our SRTP, batched UDP sends, native X25519 inside it)", async () => {
    const { dir, child, ports: { rtmp, api }, output } = await startAlone({ CANDIDATE: "127.0.0.1" });
    let ff: ReturnType<typeof publish> | undefined;
    let viewer: Awaited<ReturnType<typeof whepViewer>> | undefined;
    try {
      // ffmpeg gives up at once on a refused connection: publish only once the binary listens
      await waitFor("the binary's API answers", async () => (await fetch(`http://127.0.0.1:${api}/api/v1/versions`).catch(() => undefined))?.ok === true, 15_000);
      ff = publish(clip("clip.flv"), `rtmp://127.0.0.1:${rtmp}/live/bin`);
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          viewer = await whepViewer(api, "bin");
          break;
        } catch (e) {
          if (Date.now() > deadline) throw new Error(`no WHEP answer: ${(e as Error).message}; output:\n${output()}`);
          await Bun.sleep(250);
        }
      }
      const v = viewer;
      await waitFor("WHEP viewer of the binary receives video", () => v.packets() > 150, 15_000).catch((e) => {
        throw new Error(`${(e as Error).message}; packets ${v.packets()}; output:\n${output().slice(-3000)}`);
      });
      expect(output()).not.toContain("native socket not found");
      expect(output()).not.toContain("native X25519 unavailable");
    } finally {
      await viewer?.pc.close();
      ff?.kill();
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("embedded assets", () => {
  test("a binary built by build.ts has every www/ and conf/ file, byte for byte, when alone", () => {
    const work = tempDir("srs-probe-");
    try {
      // A probe program compiled exactly as main.ts is, that prints what lib/runtime/assets.ts sees.
      const probe = join(work, "probe.ts");
      writeFileSync(
        probe,
        `import { createHash } from "node:crypto";
import { assetsEmbedded, getAsset, listAssets } from ${JSON.stringify(join(REPO, "lib/runtime/assets.ts"))};
const files = Object.fromEntries(listAssets().map((p) => [p, createHash("sha256").update(getAsset(p)!).digest("hex")]));
console.log(JSON.stringify({ embedded: assetsEmbedded(), files }));
`,
      );
      const b = spawnSync(process.execPath, [join(REPO, "build.ts"), "--targets", "linux-x64", "--entry", probe, "--outdir", join(work, "out")], {
        cwd: work,
        encoding: "utf8",
        timeout: 280_000,
      });
      expect({ status: b.status, output: b.stdout + b.stderr }).toMatchObject({ status: 0 });
      const { dir } = aloneInEmptyDir(join(work, "out", `srs-ts-${VERSION}-linux-x64`));
      const r = run("./srs", [], dir);
      expect(r.stderr).toBe("");
      const seen = JSON.parse(r.stdout) as { embedded: boolean; files: Record<string, string> };
      const expected = Object.fromEntries(
        listAssets().map((p) => [p, createHash("sha256").update(readFileSync(join(REPO, p))).digest("hex")]),
      );
      expect(seen.embedded).toBe(true);
      expect(Object.keys(seen.files)).toContain("www/index.html");
      expect(seen.files).toEqual(expected);
      rmSync(dir, { recursive: true, force: true });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, SLOW);
});

describe("linux-arm64 binary", () => {
  test("is an aarch64 ELF executable that runs under qemu-aarch64", () => {
    requireTool("file", "file");
    requireTool("qemu-aarch64", "qemu-user");
    if (!existsSync(join(QEMU_LIBS, "lib/ld-linux-aarch64.so.1"))) {
      throw new Error(`${QEMU_LIBS} has no arm64 loader: apt-get install -y libc6-arm64-cross`);
    }
    const bin = binary("linux-arm64");
    expect(run("file", ["-b", bin], REPO).stdout).toMatch(/^ELF 64-bit LSB .*ARM aarch64/);
    const { dir } = aloneInEmptyDir(bin);
    try {
      const v = run("qemu-aarch64", ["-L", QEMU_LIBS, "./srs", "-v"], dir);
      expect(v.stderr).toBe("");
      expect(v.stdout.trim()).toBe(VERSION);
      expect(v.status).toBe(0);
      writeFileSync(join(dir, "srs.conf"), CONFIG);
      const t = run("qemu-aarch64", ["-L", QEMU_LIBS, "./srs", "-t", "-c", "srs.conf"], dir);
      expect(t.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SLOW);
});
