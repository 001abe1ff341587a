/**
 * SRS's configs ask for the AAC encoders of SRS's bundled FFmpeg (`libfdk_aac`, older ones `libaacplus`), which
 * distribution builds (Debian's, for one) do not have: such an engine would fail at every start with "Unknown
 * encoder". When the FFmpeg that runs lacks the encoder asked for, its native `aac` encoder is used instead,
 * with a log line. The FFmpeg's encoders are asked once per binary (`ffmpeg -hide_banner -encoders`).
 */

/** AAC encoders SRS's configs name, replaced by FFmpeg's native one when absent. */
const AAC_ALTERNATIVES = new Set(["libfdk_aac", "libaacplus", "libvo_aacenc"]);
const NATIVE_AAC = "aac";

const cache = new Map<string, Promise<Set<string> | undefined>>();

/** The encoder names of the FFmpeg at `path` (undefined when it cannot say: then nothing is replaced). */
export function ffmpegEncoders(path: string): Promise<Set<string> | undefined> {
  let p = cache.get(path);
  if (!p) {
    p = import("node:child_process").then(({ spawn }) => new Promise<Set<string> | undefined>((resolve) => {
      let out = "";
      let child;
      try {
        child = spawn(path, ["-hide_banner", "-encoders"], { stdio: ["ignore", "pipe", "ignore"] });
      } catch {
        resolve(undefined);
        return;
      }
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.stdout?.on("data", (d: Buffer) => {
        if (out.length < 1 << 20) out += d.toString();
      });
      child.once("error", () => resolve(undefined));
      child.once("close", (code) => {
        clearTimeout(timer);
        if (code !== 0) return resolve(undefined);
        // " A....D aac                  AAC (Advanced Audio Coding)"
        const names = [...out.matchAll(/^ [VAS][.A-Z]{5} (\S+)/gm)].map((m) => m[1]!);
        resolve(names.length ? new Set(names) : undefined);
      });
    }));
    cache.set(path, p);
  }
  return p;
}

/**
 * `args` with an AAC encoder the FFmpeg lacks replaced by `aac` (see the file comment); `replaced` names what was
 * replaced, for the log.
 */
export function withAvailableEncoders(args: readonly string[], have: Set<string> | undefined): { args: string[]; replaced: string[] } {
  const out = [...args];
  const replaced: string[] = [];
  if (!have) return { args: out, replaced };
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i] !== "-acodec" && out[i] !== "-c:a") continue;
    const enc = out[i + 1]!;
    if (AAC_ALTERNATIVES.has(enc) && !have.has(enc) && have.has(NATIVE_AAC)) {
      out[i + 1] = NATIVE_AAC;
      replaced.push(`${enc} -> ${NATIVE_AAC}`);
    }
  }
  return { args: out, replaced };
}
