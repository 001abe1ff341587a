/**
 * JavaScriptCore's tier-up thresholds for a long-running server (Bun only).
 *
 * JSC compiles a function with its baseline JIT after ~500 "execution units" (a call counts 15, a loop iteration 1)
 * and with its optimizing DFG JIT after ~1000 more. A server runs most of its code once (start-up: the config
 * parser, the SRS_* overrides, every service's construction) or rarely (the stats and console timers, an API call):
 * with the default thresholds that code is compiled within the first seconds, and compiling anything at all pages
 * in the JIT compilers themselves and their data — ~4 MB of the RSS of an idle srs-ts (bench/README.md, #16). With
 * the thresholds ×20 the start compiles nothing (the config lexer avoids a call per character for that) and a
 * once-a-second timer waits ~11 minutes for the baseline JIT; hot media code still reaches them within seconds of
 * load (a 1 Mbps stream's per-packet functions: ~1100 units a second each, loops and per-player code faster), and
 * CPU per 100 Mbps under load is unchanged within the runs' noise (bench/vs-srs.ts; ×100 saved no more memory).
 *
 * JSC reads its options once, from the environment (`BUN_JSC_<option>`), when the runtime starts: so the process
 * replaces itself (`execve(2)`, same pid, same arguments, stdio and cwd) with the options added, before it has
 * done anything else. An option the user set already is kept; `SRS_ENGINE_TUNING=off` runs without any of this.
 * Bun exits at start on an option name it does not know, and says these are not a stable API: so the tuning is
 * applied only under the Bun versions it was measured with (TUNED_BUN; the binaries embed theirs).
 */

/** Threshold options, ×20 JSC's defaults (JavaScriptCore runtime/OptionsList.h). */
const TUNING: Readonly<Record<string, string>> = {
  BUN_JSC_thresholdForJITAfterWarmUp: "10000",
  BUN_JSC_thresholdForJITSoon: "2000",
  BUN_JSC_thresholdForOptimizeAfterWarmUp: "20000",
  BUN_JSC_thresholdForOptimizeAfterLongWarmUp: "20000",
  BUN_JSC_thresholdForOptimizeSoon: "20000",
};

/** Bun versions (prefix) whose JavaScriptCore has these options, as measured (bench/README.md, #16). */
const TUNED_BUN = "1.4.";

/** Set in the replaced process: the tuning is in force (or was declined), never exec again. */
const MARK = "SRS_ENGINE_TUNING";

interface ExecveProcess {
  execve?: (file: string, args: string[], env: Record<string, string | undefined>) => never;
}

/**
 * Under Bun, when the tuning is not in force yet: re-executes this program with it (does not return). Elsewhere, or
 * when declined (`SRS_ENGINE_TUNING=off`) or impossible (no process.execve), returns and the program runs as is.
 * `self` says how to run this program again: the executable and the arguments after argv[0].
 */
export function applyEngineTuning(self: { cmd: string; args: string[] }): void {
  const bun = (globalThis as { Bun?: { version?: string } }).Bun;
  if (!bun?.version?.startsWith(TUNED_BUN)) return;
  const mark = process.env[MARK];
  if (mark !== undefined && mark !== "") return; // "on" (applied by the exec below) or "off" (declined)
  const execve = (process as ExecveProcess).execve;
  if (typeof execve !== "function") return;
  const env: Record<string, string | undefined> = { ...process.env, [MARK]: "on" };
  for (const [k, v] of Object.entries(TUNING)) if (env[k] === undefined) env[k] = v;
  // Bun flags process.execve as experimental with a warning, printed only when the exec failed and we go on.
  const warn = process.emitWarning;
  process.emitWarning = () => {};
  try {
    execve.call(process, self.cmd, [self.cmd, ...self.args], env);
  } catch {
    // execve(2) failed (the executable replaced meanwhile, or an emulator as qemu-user without binfmt): run untuned.
  } finally {
    process.emitWarning = warn;
  }
}
