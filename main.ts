/**
 * srs-ts command line, as SRS's:
 *   srs [-c|--config FILE]   run with FILE (SRS_CONFIG_FILE overrides it); no -c: the built-in default config
 *   srs -t [-c FILE]         test the config and exit (0 when valid)
 *   srs -e                   no config file: everything from SRS_* environment variables
 *   srs -v | -V              print the version
 *   srs -h                   help
 *   srs proxy                SRS 7's proxy (lib/proxy/main.ts), configured by PROXY_* environment variables
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { FAST_QUIT_BUDGET_MS } from "./lib/lifecycle.ts";
import { ConfigError, DEFAULT_CONFIG_TEXT, loadConfigAsync, type SrsConfig, unimplementedDirectives } from "./lib/config/index.ts";
import { removePidFile, writePidFile } from "./lib/pidfile.ts";
import { SRS_COMPAT_VERSION, VERSION } from "./lib/version.ts";
import { workerEnv } from "./lib/runtime/worker-env.ts";
import { fileUrlPath } from "./lib/runtime/platform.ts";
import { applyEngineTuning } from "./lib/runtime/engine-tuning.ts";
import type { PrimaryMessage, WorkerMessage } from "./lib/workers/messages.ts";

const HELP = `srs-ts ${VERSION} — a live-video server compatible with SRS ${SRS_COMPAT_VERSION}
Usage: srs [-h] [-v] [-t] [-e] [-c <file>]
       srs proxy             run as SRS 7's proxy in front of origins (see srs proxy -h)
  -h, --help            show this help and exit
  -v, -V, --version     print the version and exit
  -t                    test the config file and exit (0 when valid)
  -c, --config <file>   the config file (.conf in SRS syntax, or .yaml); default: built-in (same as conf/srs.conf)
  -e                    no config file: configure everything with SRS_* environment variables
Environment: SRS_CONFIG_FILE overrides -c; any SRS_* variable overrides its directive (e.g. SRS_LISTEN=1936,
SRS_HTTP_API_LISTEN=1986, SRS_VHOST_HLS_ENABLED=off). Signals: SIGHUP reload, SIGUSR1 reopen log,
SIGTERM/SIGINT quit (within 3 s), SIGQUIT graceful quit (grace_start_wait, grace_final_wait).
Examples:
  srs                      run on the built-in default (RTMP 1935, API 1985, HTTP 8080)
  srs -c conf/srs.conf     run with a config file
  srs -t -c conf/srs.conf  check a config file`;

interface Cli {
  help: boolean;
  version: boolean;
  test: boolean;
  envOnly: boolean;
  file?: string;
}

function parseArgs(argv: string[]): Cli {
  const cli: Cli = { help: false, version: false, test: false, envOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help" || a === "-?") cli.help = true;
    else if (a === "-v" || a === "-V" || a === "--version") cli.version = true;
    else if (a === "-t") cli.test = true;
    else if (a === "-e") cli.envOnly = true;
    else if (a === "-g") cli.version = true;
    else if (a === "-c" || a === "--config") {
      const f = argv[++i];
      if (!f) throw new ConfigError(`option ${a} needs a file name`);
      cli.file = f;
    } else if (a.startsWith("--config=")) cli.file = a.slice(9);
    else if (a.startsWith("-c") && a.length > 2) cli.file = a.slice(2);
    else throw new ConfigError(`unknown option "${a}" (see srs -h)`);
  }
  return cli;
}

/** Async only to import the YAML parser when the config is YAML (lib/config/load.ts). */
function load(cli: Cli): Promise<SrsConfig> {
  const env = process.env;
  const envOnly = cli.envOnly || env.SRS_ENV_ONLY === "on" || env.SRS_ENV_ONLY === "1" || env.SRS_ENV_ONLY === "true";
  const given = env.SRS_CONFIG_FILE || cli.file;
  // Absolute, so a reload after work_dir changed the cwd still finds it.
  const file = given ? resolve(given) : undefined;
  if (envOnly) return loadConfigAsync({ envOnly: true, env });
  if (file) return loadConfigAsync({ file, env });
  return loadConfigAsync({ text: DEFAULT_CONFIG_TEXT, env });
}

function fail(msg: string): never {
  process.stderr.write(`srs-ts: ${msg}\n`);
  tellParent(msg);
  process.exit(1);
}

/** SRS's docker detection: `in_docker on`, or /proc/1/cgroup naming docker (then `disable_daemon_for_docker`). */
function inDocker(config: SrsConfig): boolean {
  if (config.inDocker()) return true;
  try {
    return readFileSync("/proc/1/cgroup", "utf8").slice(0, 1024).includes("/docker");
  } catch {
    return false;
  }
}

interface DenoGlobal {
  args: string[];
  mainModule: string;
  execPath(): string;
}

/** How to run this program again with `args`: the runtime and, from sources, its entry (Deno: `run -A`). */
function selfCommand(): { cmd: string; args: string[] } {
  const deno = (globalThis as { Deno?: DenoGlobal }).Deno;
  if (deno) {
    const entry = deno.mainModule.startsWith("file:") ? fileUrlPath(deno.mainModule) : deno.mainModule;
    // --unstable-net: Deno keeps `reusePort` (what `workers N;` shares the ports with) behind it.
    return { cmd: deno.execPath(), args: ["run", "-A", "--unstable-net", entry, ...deno.args] };
  }
  const args = process.argv.slice(1);
  // A compiled binary's argv[1] is the virtual entry: only pass the real arguments.
  const first = args[0] ?? "";
  const forward = first.endsWith(".ts") || first.endsWith(".js") ? args : args.slice(first.startsWith("/$bunfs") ? 1 : 0);
  return { cmd: process.execPath, args: forward };
}

/** How long the parent waits for the daemon to say it started (Deno's first run type-strips every module). */
const DAEMON_START_WAIT_MS = 60_000;

/**
 * `daemon on`: re-run ourselves detached with daemon off, as SRS forks into the background. The parent waits
 * until the child has started its listeners (it writes "ok" to the file named by SRS_DAEMON_READY) or died
 * (its error is in that file): a child that cannot start makes the parent fail, instead of reporting success.
 */
async function daemonize(): Promise<never> {
  // Imported here: node:child_process pulls node:net in (~4 MB of RSS under Bun) and only `daemon on` needs it.
  const [{ spawn }, { tmpdir }] = await Promise.all([import("node:child_process"), import("node:os")]);
  const dir = mkdtempSync(join(tmpdir(), "srs-ts-daemon-"));
  const ready = join(dir, "ready");
  const { cmd, args } = selfCommand();
  const child = spawn(cmd, args, {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, SRS_DAEMON: "off", SRS_DAEMON_READY: ready },
  });
  let exited: number | string | undefined;
  child.once("exit", (code, signal) => (exited = code ?? signal ?? "?"));
  child.once("error", (e) => (exited = e.message));
  const report = (): string => {
    try {
      return readFileSync(ready, "utf8").trim();
    } catch {
      return "";
    }
  };
  const end = Date.now() + DAEMON_START_WAIT_MS;
  let said = report();
  while (!said && exited === undefined && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    said = report();
  }
  rmSync(dir, { recursive: true, force: true });
  if (said !== "ok" && (said || exited !== undefined)) {
    fail(`daemon on: the background process ${child.pid ?? ""} failed to start` +
      (exited !== undefined ? ` (exit ${exited})` : "") + (said ? `: ${said}` : ""));
  }
  child.unref();
  const how = said === "ok" ? "running" : `still starting after ${DAEMON_START_WAIT_MS / 1000}s`;
  process.stdout.write(`srs-ts: daemon on: ${how} in the background as pid ${child.pid} (set daemon off to stay in the foreground)\n`);
  process.exit(0);
}

/** The daemon child tells its parent how the start went (see daemonize). */
function tellParent(what: string): void {
  const file = process.env.SRS_DAEMON_READY;
  if (!file) return;
  delete process.env.SRS_DAEMON_READY;
  try {
    writeFileSync(file, what);
  } catch {
    // the parent gave up waiting and removed its folder
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "proxy") {
    applyEngineTuning(selfCommand());
    // Imported here: the server never loads the proxy (nor its Redis client).
    const { proxyMain } = await import("./lib/proxy/main.ts");
    await proxyMain(process.argv.slice(3));
    return;
  }
  let cli: Cli;
  try {
    cli = parseArgs(process.argv.slice(2));
  } catch (e) {
    fail((e as Error).message);
  }
  if (cli.help) {
    process.stdout.write(HELP + "\n");
    return;
  }
  if (cli.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // Before anything else a server does: JavaScriptCore's thresholds for a server (this program re-executes
  // itself once, under Bun; lib/runtime/engine-tuning.ts).
  if (!cli.test) applyEngineTuning(selfCommand());
  let config: SrsConfig;
  try {
    config = await load(cli);
  } catch (e) {
    if (e instanceof ConfigError) {
      if (cli.test) process.stderr.write(`srs-ts: configuration test failed\n`);
      fail(e.message);
    }
    fail(`config: ${(e as Error).message}`);
  }
  const what = process.env.SRS_CONFIG_FILE || cli.file || (cli.envOnly ? "(environment)" : "(built-in default)");
  if (cli.test) {
    // Accepted but not implemented yet: named with file:line, as in the start log.
    for (const u of unimplementedDirectives(config)) process.stderr.write(`srs-ts: warning: ${u.text}\n`);
    process.stdout.write(`srs-ts: the config file ${what} syntax is ok\nsrs-ts: config file ${what} test is successful\n`);
    return;
  }
  if (config.daemon()) {
    if (inDocker(config) && config.disableDaemonForDocker()) {
      process.stderr.write(`srs-ts: disable daemon for docker (disable_daemon_for_docker on)\n`);
    } else await daemonize();
  }
  // work_dir: relative paths (pid, logs, hls_path, dvr_path, http_server.dir) resolve from here, as in SRS.
  const workDir = config.workDir();
  if (workDir && workDir !== "./") {
    try {
      process.chdir(workDir);
    } catch (e) {
      fail(`work_dir ${workDir}: ${(e as Error).message}`);
    }
  }

  const wenv = workerEnv();
  if (!wenv && config.workers() > 1) {
    await runPrimary(config);
    return;
  }
  const worker = wenv && process.send
    ? {
      env: wenv,
      channel: {
        send: (m: WorkerMessage) => void process.send?.(m),
        onMessage: (f: (m: PrimaryMessage) => void) => void process.on("message", (m) => f(m as PrimaryMessage)),
      },
    }
    : undefined;
  // Imported here, not at the top: a `workers N` primary carries no media and never loads the server's modules.
  const { Server, StartError } = await import("./lib/server.ts");
  const server = new Server(config, { configName: what, loadConfig: () => load(cli), worker });
  // SRS's signals: SIGTERM/SIGINT quit fast (SIGTERM graceful with force_grace_quit), SIGQUIT quits gracefully;
  // a second quit signal during a quit makes it fast. A guard timer makes sure the process goes whatever hangs.
  let quitting = false;
  const quit = (signal: string, graceful: boolean) => {
    if (quitting) {
      void server.stop(signal);
      return;
    }
    quitting = true;
    const c = server.config;
    const asGrace = graceful || (signal === "SIGTERM" && c.forceGraceQuit());
    const limit = (asGrace ? c.graceStartWait() + c.graceFinalWait() : 0) + FAST_QUIT_BUDGET_MS + 1000;
    setTimeout(() => {
      server.log.warn(`quit: not done after ${limit}ms, exiting anyway`);
      process.exit(0);
    }, limit);
    const p = asGrace ? server.gracefulStop(signal) : server.stop(signal);
    void p.finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => quit("SIGTERM", false));
  process.on("SIGINT", () => quit("SIGINT", false));
  process.on("SIGQUIT", () => quit("SIGQUIT", true));
  process.on("SIGHUP", () => void server.reload());
  process.on("SIGUSR1", () => server.reopenLog());
  // A worker whose primary is gone quits (the primary's restart starts new workers).
  if (worker) process.on("disconnect", () => quit("primary gone", false));
  try {
    await server.start();
  } catch (e) {
    if (e instanceof StartError) fail(e.message);
    fail(`start: ${(e as Error).message}`);
  }
  tellParent("ok");
}

/**
 * srs-ts's `workers N;` (N > 1): this process is the primary (lib/workers/primary.ts). It keeps the pid file,
 * starts the workers and passes signals on; it exits when they have all exited after a quit signal.
 */
async function runPrimary(config: SrsConfig): Promise<void> {
  const pid = config.pidFile();
  if (pid) {
    try {
      writePidFile(pid);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const { Primary } = await import("./lib/workers/primary.ts");
  const primary = new Primary({
    count: config.workers(),
    command: selfCommand(),
    log: (line) => process.stderr.write(`[${new Date().toISOString()}][primary] ${line}\n`),
    onStartFailed: (why) => {
      if (pid) removePidFile(pid);
      fail(`workers: ${why}; see its error above`);
    },
  });
  for (const sig of ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1"] as const) process.on(sig, () => primary.signal(sig));
  primary.start();
  tellParent("ok");
  await primary.done;
  if (pid) removePidFile(pid);
  process.exit(0);
}

await main();
