/**
 * The command line and process lifecycle as a user meets them: -v/-h/-t/-e, config errors as one line with
 * file:line, port in use, the pid file, logs in SRS's format, SIGHUP reload (a bad config is refused),
 * SIGUSR1 log reopen, SIGTERM and SIGQUIT.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/media.ts";
import { freePort, type RunningServer, startServer } from "../helpers/server.ts";
import { tempDir } from "../helpers/temp.ts";

const MAIN = join(REPO_ROOT, "main.ts");

function cli(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...process.env, ...env },
    cwd: cwd ?? tempDir("srs-ts-cli-"),
    encoding: "utf8",
    timeout: 20000,
  });
  return { code: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

function tempConf(text: string, name = "srs.conf"): string {
  const dir = tempDir("srs-ts-conf-");
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const running: RunningServer[] = [];
afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
});

const LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]\[(Trace|Warn|Error|Debug|Verb)\]\[\d+\]\[[0-9a-z-]{8}\] /m;

describe("cli", () => {
  test("-v and -V print the version", () => {
    for (const flag of ["-v", "-V"]) {
      const r = cli([flag]);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  test("-h prints usage", () => {
    const r = cli(["-h"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: srs");
    expect(r.out).toContain("-t");
  });

  test("-t accepts conf/srs.conf and the built-in default", () => {
    const a = cli(["-t", "-c", join(REPO_ROOT, "conf/srs.conf")]);
    expect(a.out).toContain("test is successful");
    expect(a.code).toBe(0);
    const b = cli(["-t"]);
    expect(b.code).toBe(0);
  });

  test("-t rejects a syntax error with file:line and no stack trace", () => {
    const p = tempConf("listen 1935;\nvhost __defaultVhost__ {\n  hls { enabled on;\n}\n");
    const r = cli(["-t", "-c", p]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(p);
    expect(r.out).not.toMatch(/\n\s+at /); // no stack trace
  });

  test("-t rejects an unknown directive naming file, line and directive", () => {
    const p = tempConf("listen 1935;\nmax_connections 100;\nno_such_thing on;\nvhost __defaultVhost__ {}\n");
    const r = cli(["-t", "-c", p]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${p}:3`);
    expect(r.out).toContain("no_such_thing");
    expect(r.out.trim().split("\n").length).toBeLessThanOrEqual(3);
  });

  test("-t rejects a bad value type and an unreadable include", () => {
    const bad = tempConf("listen 1935;\nchunk_size abc;\nvhost __defaultVhost__ {}\n");
    const r1 = cli(["-t", "-c", bad]);
    expect(r1.code).not.toBe(0);
    expect(r1.out).toContain(`${bad}:2`);
    const inc = tempConf("listen 1935;\ninclude /nonexistent/x.conf;\nvhost __defaultVhost__ {}\n");
    const r2 = cli(["-t", "-c", inc]);
    expect(r2.code).not.toBe(0);
    expect(r2.out).toContain("/nonexistent/x.conf");
  });

  test("-t on a missing file fails clearly", () => {
    const r = cli(["-t", "-c", "/nonexistent/srs.conf"]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("/nonexistent/srs.conf");
  });

  test("SRS_CONFIG_FILE overrides -c", () => {
    const bad = tempConf("nonsense_directive on;\n");
    const r = cli(["-t", "-c", join(REPO_ROOT, "conf/srs.conf")], { SRS_CONFIG_FILE: bad });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("nonsense_directive");
  });

  test("-e runs from the environment only", async () => {
    const r = cli(["-t", "-e"], { SRS_LISTEN: "1936" });
    expect(r.code).toBe(0);
    const s = await startServer({ command: [process.execPath, MAIN, "-e"] });
    running.push(s);
    expect(s.output()).toMatch(LOG_LINE);
    expect(await s.stop()).toBe(0);
  });

  test("unknown option is an error", () => {
    const r = cli(["--bogus"]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("--bogus");
  });

  test("a port in use gives one clear line and a non-zero exit", async () => {
    const port = await freePort();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
    try {
      const r = cli([], {
        SRS_LISTEN: `127.0.0.1:${port}`,
        SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${await freePort()}`,
        SRS_HTTP_API_LISTEN: `127.0.0.1:${await freePort()}`,
        SRS_RTC_SERVER_ENABLED: "off",
        SRS_SRT_SERVER_ENABLED: "off",
        SRS_PID: join(tempDir("srs-ts-pid-"), "srs.pid"),
      });
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`${port}`);
      expect(r.out).toContain("address already in use");
      expect(r.out).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});

describe("lifecycle", () => {
  test("logs in SRS format with a context id per connection; pid file written and removed", async () => {
    const s = await startServer();
    running.push(s);
    const pid = join(s.dir, "srs.pid");
    expect(readFileSync(pid, "utf8").trim()).toBe(String(s.proc.pid));
    expect(s.output()).toMatch(LOG_LINE);
    expect(await s.stop("SIGTERM")).toBe(0);
    expect(existsSync(pid)).toBe(false);
  });

  test("a second server on the same pid file refuses to start", async () => {
    const s = await startServer();
    running.push(s);
    const r = cli([], {
      SRS_PID: join(s.dir, "srs.pid"),
      SRS_LISTEN: `127.0.0.1:${await freePort()}`,
      SRS_HTTP_SERVER_LISTEN: `127.0.0.1:${await freePort()}`,
      SRS_HTTP_API_LISTEN: `127.0.0.1:${await freePort()}`,
      SRS_RTC_SERVER_ENABLED: "off",
      SRS_SRT_SERVER_ENABLED: "off",
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("already running");
    await s.stop();
  });

  test("SIGHUP reloads; a bad config is refused and the server keeps running", async () => {
    const conf = "listen 1935;\nsrs_log_level trace;\nvhost __defaultVhost__ {}\n";
    const s = await startServer({ config: conf });
    running.push(s);
    const file = join(s.dir, "srs.conf");
    writeFileSync(file, "listen 1935;\nsrs_log_level warn;\nvhost __defaultVhost__ {}\n");
    s.proc.kill("SIGHUP");
    await Bun.sleep(500);
    expect(s.output()).toContain("reload ok");
    writeFileSync(file, "listen 1935;\nvhost __defaultVhost__ {\n");
    s.proc.kill("SIGHUP");
    await Bun.sleep(500);
    expect(s.output()).toContain("reload failed");
    expect(s.output()).toContain(file);
    expect(s.proc.exitCode).toBeNull();
    expect(await s.stop()).toBe(0);
  });

  test("srs_log_tank file writes the log file; SIGUSR1 reopens it after logrotate moved it", async () => {
    const dir = tempDir("srs-ts-log-");
    const log = join(dir, "srs.log");
    const s = await startServer({ env: { SRS_LOG_TANK: "file", SRS_LOG_FILE: log } });
    running.push(s);
    await Bun.sleep(200);
    expect(readFileSync(log, "utf8")).toMatch(LOG_LINE);
    renameSync(log, log + ".1");
    s.proc.kill("SIGUSR1");
    await Bun.sleep(300);
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, "utf8")).toContain("log file reopened");
    await s.stop();
  });

  test("daemon on forks into the background; the daemon writes the pid file and quits on SIGTERM", async () => {
    const dir = tempDir("srs-ts-daemon-");
    const port = await freePort();
    const conf = tempConf(
      `listen 127.0.0.1:${port};\ndaemon on;\npid ${dir}/srs.pid;\nsrs_log_tank file;\nsrs_log_file ${dir}/srs.log;\n` +
        `http_api { enabled off; }\nhttp_server { enabled off; }\nvhost __defaultVhost__ {}\n`,
    );
    const env = { SRS_DAEMON: "", SRS_PID: "", SRS_LOG_TANK: "", SRS_LOG_FILE: "" };
    const r = cli(["-c", conf], env);
    expect(r.code).toBe(0);
    expect(r.out).toContain("background");
    let pid = 0;
    for (let i = 0; i < 50 && !pid; i++) {
      await Bun.sleep(100);
      if (existsSync(`${dir}/srs.pid`)) pid = Number(readFileSync(`${dir}/srs.pid`, "utf8").trim());
    }
    expect(pid).toBeGreaterThan(0);
    expect(readFileSync(`${dir}/srs.log`, "utf8")).toMatch(LOG_LINE);
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 50 && existsSync(`${dir}/srs.pid`); i++) await Bun.sleep(100);
    expect(existsSync(`${dir}/srs.pid`)).toBe(false);
  });

  test("daemon on: a background process that cannot start (port in use) makes the parent fail with its reason", async () => {
    const dir = tempDir("srs-ts-daemon-");
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const conf = tempConf(
        `listen 127.0.0.1:${port};\ndaemon on;\npid ${dir}/srs.pid;\nsrs_log_tank file;\nsrs_log_file ${dir}/srs.log;\n` +
          `http_api { enabled off; }\nhttp_server { enabled off; }\nvhost __defaultVhost__ {}\n`,
      );
      const r = cli(["-c", conf], { SRS_DAEMON: "", SRS_PID: "", SRS_LOG_TANK: "", SRS_LOG_FILE: "" });
      expect(r.code).toBe(1);
      expect(r.out).toContain("failed to start");
      expect(r.out).toContain("address already in use");
      expect(existsSync(`${dir}/srs.pid`)).toBe(false);
    } finally {
      busy.close();
    }
  });

  test("work_dir: relative paths resolve from it", async () => {
    const work = tempDir("srs-ts-work-");
    const s = await startServer({ config: `listen 1935;\nwork_dir ${work};\npid ./objs/srs.pid;\nvhost __defaultVhost__ {}\n`, env: { SRS_PID: "" } });
    running.push(s);
    expect(existsSync(join(work, "objs/srs.pid"))).toBe(true);
    await s.stop();
  });

  test("SIGQUIT quits gracefully", async () => {
    const s = await startServer({ env: { SRS_GRACE_START_WAIT: "100", SRS_GRACE_FINAL_WAIT: "500" } });
    running.push(s);
    expect(await s.stop("SIGQUIT")).toBe(0);
    expect(s.output()).toContain("graceful quit");
  });
});
