/**
 * JavaScriptCore's thresholds for a server (lib/runtime/engine-tuning.ts): the server re-executes itself once with
 * them in its environment, in the same process (same pid, its listeners answer); a threshold the user set is kept;
 * SRS_ENGINE_TUNING=off runs untuned. Read from /proc/PID/environ (Linux), as the kernel sees the exec.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { type RunningServer, startServer } from "../helpers/server.ts";

function environ(pid: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
    const eq = kv.indexOf("=");
    if (eq > 0) m.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return m;
}

const started: RunningServer[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) await s.stop();
});

async function api(s: RunningServer): Promise<number> {
  return (await fetch(`http://127.0.0.1:${s.api}/api/v1/versions`)).status;
}

describe("engine tuning", () => {
  test("the server runs with JSC's thresholds ×20, in the pid it was started as", async () => {
    const s = await startServer({ env: { SRS_ENGINE_TUNING: "" } });
    started.push(s);
    const env = environ(s.proc.pid!);
    expect(env.get("SRS_ENGINE_TUNING")).toBe("on");
    expect(env.get("BUN_JSC_thresholdForOptimizeAfterWarmUp")).toBe("20000");
    expect(await api(s)).toBe(200);
    // SIGTERM reaches the exec'd server: it quits as usual.
    expect(await s.stop()).toBe(0);
  });

  test("a threshold the user set is kept", async () => {
    const s = await startServer({ env: { SRS_ENGINE_TUNING: "", BUN_JSC_thresholdForJITAfterWarmUp: "777" } });
    started.push(s);
    const env = environ(s.proc.pid!);
    expect(env.get("BUN_JSC_thresholdForJITAfterWarmUp")).toBe("777");
    expect(env.get("BUN_JSC_thresholdForJITSoon")).toBe("2000");
  });

  test("SRS_ENGINE_TUNING=off runs untuned", async () => {
    const s = await startServer({ env: { SRS_ENGINE_TUNING: "off" } });
    started.push(s);
    const env = environ(s.proc.pid!);
    expect(env.has("BUN_JSC_thresholdForOptimizeAfterWarmUp")).toBe(false);
    expect(await api(s)).toBe(200);
  });
});
