/**
 * The process supervisor of ingest/transcode/exec (lib/services/ffmpeg/process.ts) with real programs (sh, sleep):
 * a program that exits at once is logged with its last output lines and retried with growing delays, never in a
 * tight loop; a missing program likewise; one that leaves a child behind is seen to exit and the child ended; a program that ran long enough is restarted after the short delay;
 * stop() ends it with SIGTERM, or SIGKILL when it ignores SIGTERM, and reaches its children (process group).
 */
import { describe, expect, test } from "bun:test";
import { alive } from "../../helpers/processes.ts";
import { Log, LogSink } from "../../../lib/log/logger.ts";
import { SupervisedProcess } from "../../../lib/services/ffmpeg/process.ts";

class CaptureLog extends Log {
  lines: string[] = [];
  constructor() {
    super(new LogSink({ tank: "console", level: "error" }), "test");
  }
  override trace(m: string): void {
    this.lines.push(`trace ${m}`);
  }
  override warn(m: string): void {
    this.lines.push(`warn ${m}`);
  }
}

const FAST = { restartMs: 100, healthyMs: 1500, maxBackoffMs: 400 };

describe("supervisor", () => {
  test("a program that exits at once: its last lines logged, retried at 100, 200, 400, 400 ms (no tight loop)", async () => {
    const log = new CaptureLog();
    const p = new SupervisedProcess({ kind: "ingest", name: "t", bin: "sh", args: ["-c", "echo 'Unknown encoder libfdk_aac' >&2; exit 1"] }, log, FAST);
    p.start();
    await Bun.sleep(1400);
    await p.stop();
    // starts at ~0, 100, 300, 700, 1100 ms: 5 (not hundreds)
    expect(p.starts).toBeGreaterThanOrEqual(4);
    expect(p.starts).toBeLessThanOrEqual(6);
    const warns = log.lines.filter((l) => l.startsWith("warn"));
    expect(warns[0]).toContain("exited at once (exit code 1)");
    expect(warns[0]).toContain("last output: Unknown encoder libfdk_aac; retry in 0.1s");
    expect(warns[1]).toContain("retry in 0.2s");
    expect(warns[2]).toContain("retry in 0.4s");
    expect(warns[3]).toContain("retry in 0.4s");
    expect(p.info()).toMatchObject({ state: "stopped", last_exit: "exit code 1", last_stderr: ["Unknown encoder libfdk_aac"] });
  });

  test("a program that exits leaving a child behind: its exit counts (the child holds its pipes) and the child is ended", async () => {
    const log = new CaptureLog();
    const p = new SupervisedProcess({ kind: "exec", name: "t", bin: "sh", args: ["-c", "sleep 30 & echo child $!; exit 3"] }, log, { ...FAST, restartMs: 5000 });
    p.start();
    await Bun.sleep(700);
    const child = Number(/child (\d+)/.exec(p.info().last_stderr.join("\n"))?.[1] ?? 0);
    expect(child).toBeGreaterThan(0);
    expect(p.info()).toMatchObject({ state: "waiting", last_exit: "exit code 3" });
    expect(alive(child)).toBe(false);
    await p.stop();
  });

  test("a missing program: said why, retried with back-off", async () => {
    const log = new CaptureLog();
    const p = new SupervisedProcess({ kind: "transcode", name: "t", bin: "/no/such/ffmpeg", args: [] }, log, FAST);
    p.start();
    await Bun.sleep(800);
    await p.stop();
    expect(p.starts).toBe(0);
    const warns = log.lines.filter((l) => l.startsWith("warn"));
    expect(warns.length).toBeGreaterThanOrEqual(3);
    expect(warns.length).toBeLessThanOrEqual(4);
    expect(warns[0]).toBe("warn transcode t: cannot run /no/such/ffmpeg: /no/such/ffmpeg does not exist or is not executable; retry in 0.1s");
  });

  test("a program that ran long enough is restarted after the short delay, its back-off reset", async () => {
    const log = new CaptureLog();
    const p = new SupervisedProcess({ kind: "ingest", name: "t", bin: "sh", args: ["-c", "sleep 0.3"] }, log, { ...FAST, healthyMs: 200 });
    p.start();
    await Bun.sleep(1300);
    await p.stop();
    expect(p.starts).toBeGreaterThanOrEqual(3);
    expect(log.lines.filter((l) => l.startsWith("warn"))).toEqual([]);
    expect(log.lines.some((l) => l.includes("exited (exit code 0) after 0.3s, restart in 0.1s"))).toBe(true);
  });

  test("stop: SIGTERM to the whole group; SIGKILL after the grace when it is ignored", async () => {
    const log = new CaptureLog();
    // A shell that starts a child and ignores SIGTERM itself: the child (same group) gets the SIGTERM.
    const p = new SupervisedProcess({ kind: "exec", name: "t", bin: "sh", args: ["-c", "trap '' TERM; sleep 30 & echo child $!; wait; sleep 30"], stopGraceMs: 300 }, log, FAST);
    p.start();
    await Bun.sleep(300);
    const pid = p.pid!;
    const child = Number(/child (\d+)/.exec(p.info().last_stderr.join("\n"))?.[1] ?? 0);
    expect(child).toBeGreaterThan(0);
    const t0 = Date.now();
    await p.stop();
    const took = Date.now() - t0;
    expect(alive(pid)).toBe(false);
    if (child) expect(alive(child)).toBe(false);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(log.lines.some((l) => l.includes("no exit 300ms after SIGTERM, SIGKILL"))).toBe(true);
    expect(p.info().last_exit).toBe("killed by SIGKILL");
  });
});
