/**
 * Services loaded on demand: a service whose modules only matter when the config uses it (DVR, DASH, forward,
 * the FFmpeg processes, the audio bridge) is imported with `await import(...)` — so the bundler puts it in a
 * chunk of its own, out of the start-up code and out of an idle server's memory — once a config wants it: at
 * start, or at a reload that turns it on. A loaded service is never unloaded: a reload that turns it off goes
 * through the service's own reload handler, as when it was loaded at start.
 *
 * This file holds the loader (OnDemand) and, for each service, when a config wants it (`uses*`), read the way
 * the service itself decides per stream. When in doubt they answer true: loading too often costs memory only,
 * not loading would be a broken feature.
 */
import type { SrsConfig } from "../config/index.ts";
import type { VhostConfig } from "../config/vhost.ts";

export interface OnDemandSpec<T, C> {
  /** For the log ("dvr", "dash", ...). */
  readonly name: string;
  /** Whether `config` needs the service. */
  wanted(config: C): boolean;
  /** Imports the service's modules and starts it. */
  load(): Promise<T>;
}

/** One service loaded on demand: at most once, however many callers ask at the same time. */
export class OnDemand<T, C = SrsConfig> {
  private value: T | undefined;
  private loading: Promise<T> | undefined;

  constructor(private readonly spec: OnDemandSpec<T, C>) {}

  get name(): string {
    return this.spec.name;
  }

  /** The service, once loaded. */
  current(): T | undefined {
    return this.value;
  }

  wanted(config: C): boolean {
    return this.spec.wanted(config);
  }

  /**
   * Loads the service if `config` wants it and it is not loaded yet; resolves to the service (undefined when not
   * wanted and not loaded). A failed load is not remembered: the next call tries again.
   */
  async ensure(config: C): Promise<T | undefined> {
    if (this.value !== undefined) return this.value;
    if (!this.loading && !this.spec.wanted(config)) return undefined;
    return await this.load();
  }

  /** Loads the service now (once). */
  load(): Promise<T> {
    this.loading ??= this.spec.load().then(
      (v) => (this.value = v),
      (e: unknown) => {
        this.loading = undefined;
        throw new Error(`${this.spec.name}: cannot load: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      },
    );
    return this.loading;
  }
}

/** The configured vhosts (disabled ones too: when in doubt, load). */
function anyVhost(c: SrsConfig, uses: (v: VhostConfig) => boolean): boolean {
  return c.vhosts().some((name) => {
    const v = c.vhostExact(name);
    return v !== undefined && uses(v);
  });
}

/** DVR (lib/services/dvr): some vhost has `dvr { enabled on; }`. */
export function usesDvr(c: SrsConfig): boolean {
  return anyVhost(c, (v) => v.dvr.enabled);
}

/** DASH (lib/protocols/dash): some vhost has `dash { enabled on; }`. */
export function usesDash(c: SrsConfig): boolean {
  return anyVhost(c, (v) => v.dash.enabled);
}

/** Forward (lib/services/forward): some vhost has `forward { enabled on; }` (destinations, a backend or both). */
export function usesForward(c: SrsConfig): boolean {
  return anyVhost(c, (v) => v.forward.enabled);
}

/**
 * The FFmpeg services (lib/services/ffmpeg): some vhost has an enabled `ingest`, an enabled `transcode` or an
 * enabled `exec`.
 */
export function usesFfmpeg(c: SrsConfig): boolean {
  return anyVhost(c, (v) => v.exec.enabled || v.ingests.some((i) => i.enabled) || v.transcodes.some((t) => t.enabled));
}

/**
 * The audio bridge (lib/services/audio-bridge): some vhost's `rtc` has `rtmp_to_rtc on` or `rtc_to_rtmp on` (the
 * bridge reads the vhost's rtc block at each publish, whether or not `rtc { enabled }`). With `vhost`: whether a
 * stream published there is bridged (the vhost's block, or the default vhost's when it is not configured).
 */
export function usesAudioBridge(c: SrsConfig, vhost?: string): boolean {
  const bridges = (v: VhostConfig) => v.rtc.rtmpToRtc || v.rtc.rtcToRtmp;
  if (vhost === undefined) return anyVhost(c, bridges);
  const v = c.vhost(vhost);
  return v !== undefined && bridges(v);
}
