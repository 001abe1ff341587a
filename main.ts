/**
 * srs-ts command line, as SRS's:
 *   srs [-c|--config FILE]   run with FILE (SRS_CONFIG_FILE overrides it); no -c: the built-in default config
 *   srs -t [-c FILE]         test the config and exit (0 when valid)
 *   srs -e                   no config file: everything from SRS_* environment variables
 *   srs -v | -V              print the version
 *   srs -h                   help
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { ConfigError, DEFAULT_CONFIG_TEXT, loadConfig, type SrsConfig, unimplementedDirectives } from "./lib/config/index.ts";
import { Server, StartError } from "./lib/server.ts";
import { SRS_COMPAT_VERSION, VERSION } from "./lib/version.ts";

const HELP = `srs-ts ${VERSION} — a live-video server compatible with SRS ${SRS_COMPAT_VERSION}
Usage: srs [-h] [-v] [-t] [-e] [-c <file>]
  -h, --help            show this help and exit
  -v, -V, --version     print the version and exit
  -t                    test the config file and exit (0 when valid)
  -c, --config <file>   the config file (.conf in SRS syntax, or .yaml); default: built-in (same as conf/srs.conf)
  -e                    no config file: configure everything with SRS_* environment variables
Environment: SRS_CONFIG_FILE overrides -c; any SRS_* variable overrides its directive (e.g. SRS_LISTEN=1936,
SRS_HTTP_API_LISTEN=1986, SRS_VHOST_HLS_ENABLED=off). Signals: SIGHUP reload, SIGUSR1 reopen log,
SIGTERM quit, SIGQUIT graceful quit.
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

function load(cli: Cli): SrsConfig {
  const env = process.env;
  const envOnly = cli.envOnly || env.SRS_ENV_ONLY === "on" || env.SRS_ENV_ONLY === "1" || env.SRS_ENV_ONLY === "true";
  const given = env.SRS_CONFIG_FILE || cli.file;
  // Absolute, so a reload after work_dir changed the cwd still finds it.
  const file = given ? resolve(given) : undefined;
  if (envOnly) return loadConfig({ envOnly: true, env });
  if (file) return loadConfig({ file, env });
  return loadConfig({ text: DEFAULT_CONFIG_TEXT, env });
}

function fail(msg: string): never {
  process.stderr.write(`srs-ts: ${msg}\n`);
  process.exit(1);
}

/** `daemon on`: re-run ourselves detached with daemon off, as SRS forks into the background. */
function daemonize(): never {
  const args = process.argv.slice(1);
  // A compiled binary's argv[1] is the virtual entry: only pass the real arguments.
  const first = args[0] ?? "";
  const forward = first.endsWith(".ts") || first.endsWith(".js") ? args : args.slice(first.startsWith("/$bunfs") ? 1 : 0);
  const child = spawn(process.execPath, forward, {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, SRS_DAEMON: "off" },
  });
  child.unref();
  process.stdout.write(`srs-ts: daemon on: running in the background as pid ${child.pid} (set daemon off to stay in the foreground)\n`);
  process.exit(0);
}

async function main(): Promise<void> {
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
  let config: SrsConfig;
  try {
    config = load(cli);
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
  if (config.daemon()) daemonize();
  // work_dir: relative paths (pid, logs, hls_path, dvr_path, http_server.dir) resolve from here, as in SRS.
  const workDir = config.workDir();
  if (workDir && workDir !== "./") {
    try {
      process.chdir(workDir);
    } catch (e) {
      fail(`work_dir ${workDir}: ${(e as Error).message}`);
    }
  }

  const server = new Server(config, { configFile: cli.file, loadConfig: () => load(cli) });
  const quit = (graceful: boolean) => {
    const p = graceful || server.config.forceGraceQuit() ? server.gracefulStop() : server.stop();
    void p.finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => quit(false));
  process.on("SIGINT", () => quit(false));
  process.on("SIGQUIT", () => quit(true));
  process.on("SIGHUP", () => void server.reload());
  process.on("SIGUSR1", () => server.reopenLog());
  try {
    await server.start();
  } catch (e) {
    if (e instanceof StartError) fail(e.message);
    fail(`start: ${(e as Error).message}`);
  }
}

await main();
