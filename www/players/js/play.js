// Plays an HTTP live stream in a <video>: HTTP-FLV and HTTP-TS through mpegts.js (Media Source Extensions), HLS
// through hls.js, or natively where the browser plays HLS itself (Safari, iOS), MPEG-DASH (.mpd) through dash.js. The libraries are loaded on first use
// from this folder (they are embedded in the server; no CDN).

const here = new URL(".", import.meta.url);
const loading = new Map();

function loadScript(name, global) {
  if (globalThis[global]) return Promise.resolve(globalThis[global]);
  if (!loading.has(name)) {
    loading.set(name, new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = new URL(name, here).href;
      s.onload = () => (globalThis[global] ? resolve(globalThis[global]) : reject(new Error(`${name} did not load`)));
      s.onerror = () => reject(new Error(`cannot load ${name}`));
      document.head.append(s);
    }));
  }
  return loading.get(name);
}

/** "flv", "ts", "hls" or "dash" from a URL's extension (query ignored); "flv" when it has none. */
export function kindOf(url) {
  const path = new URL(url, location.href).pathname.toLowerCase();
  if (path.endsWith(".m3u8")) return "hls";
  if (path.endsWith(".mpd")) return "dash";
  if (path.endsWith(".ts")) return "ts";
  return "flv";
}

/**
 * Starts playing `url` in `video`. Returns { kind, engine, stop(), latency() } where latency() is the seconds of
 * media between what is shown and the newest media received (hls.js: distance to the live edge), or NaN.
 * `onError(message)` is called once on a fatal error.
 */
export async function playHttp(video, url, { onError = () => {}, lowLatency = true } = {}) {
  const kind = kindOf(url);
  let failed = false;
  const fail = (msg) => {
    if (!failed) {
      failed = true;
      onError(msg);
    }
  };
  const buffered = () => {
    const b = video.buffered;
    return b.length ? b.end(b.length - 1) - video.currentTime : NaN;
  };

  if (kind === "hls") {
    const nativeHls = video.canPlayType("application/vnd.apple.mpegurl");
    const hasMse = "MediaSource" in globalThis || "ManagedMediaSource" in globalThis;
    if (nativeHls && !hasMse) {
      video.src = url;
      video.addEventListener("error", () => fail(`video error ${video.error?.code ?? ""}`), { once: true });
      return { kind, engine: "native", version: "", stop: () => { video.removeAttribute("src"); video.load(); }, latency: buffered };
    }
    const Hls = await loadScript("hls.min.js", "Hls");
    if (!Hls.isSupported()) throw new Error("this browser has neither Media Source Extensions nor native HLS");
    const hls = new Hls({ lowLatencyMode: lowLatency, liveSyncDurationCount: 2, enableWorker: true });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && data.details === "manifestLoadError") fail(`cannot load ${url} (${data.response?.code ?? "network error"})`);
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else fail(`${data.type}: ${data.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    return {
      kind, engine: "hls.js", version: Hls.version,
      stop: () => hls.destroy(),
      latency: () => (Number.isFinite(hls.latency) && hls.latency > 0 ? hls.latency : buffered()),
    };
  }

  if (kind === "dash") {
    const dashjs = await loadScript("dash.mediaplayer.min.js", "dashjs");
    const player = dashjs.MediaPlayer().create();
    player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
    player.on(dashjs.MediaPlayer.events.ERROR, (e) => {
      const err = e?.error;
      fail(`dash.js: ${err?.message ?? err?.code ?? "error"}`);
    });
    // dash.js refreshes a live MPD only after its PLAYBACK_STARTED, which it derives from the video's "play" event:
    // the caller's video.play() must come after dash.js has set the stream up (else the MPD is never reloaded).
    const ready = new Promise((resolve) => {
      player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, resolve);
      player.on(dashjs.MediaPlayer.events.ERROR, resolve);
    });
    player.initialize(video, url, false);
    await ready;
    return {
      kind, engine: "dash.js", version: player.getVersion?.() ?? "",
      stop: () => player.destroy(),
      latency: () => {
        const l = player.getCurrentLiveLatency?.();
        return Number.isFinite(l) && l > 0 ? l : buffered();
      },
    };
  }

  const mpegts = await loadScript("mpegts.js", "mpegts");
  Object.assign(mpegts.LoggingControl, { enableVerbose: false, enableDebug: false, enableInfo: false });
  if (!mpegts.isSupported()) throw new Error("this browser has no Media Source Extensions (needed for HTTP-FLV/TS)");
  const player = mpegts.createPlayer(
    { type: kind === "ts" ? "mpegts" : "flv", isLive: true, url },
    {
      enableWorker: false,
      enableStashBuffer: !lowLatency,
      lazyLoad: false,
      liveBufferLatencyChasing: lowLatency,
      liveBufferLatencyMaxLatency: 1.5,
      liveBufferLatencyMinRemain: 0.3,
      autoCleanupSourceBuffer: true,
    },
  );
  player.on(mpegts.Events.ERROR, (type, detail, info) => {
    const why = [info?.code > 0 ? `HTTP ${info.code}` : "", info?.msg ?? ""].filter(Boolean).join(" ");
    fail(`${type}: ${detail}${why ? ` (${why})` : ""}`);
  });
  player.attachMediaElement(video);
  player.load();
  return {
    kind, engine: "mpegts.js", version: mpegts.version ?? "",
    stop: () => {
      try {
        player.pause();
        player.unload();
        player.detachMediaElement();
      } catch { /* already gone */ }
      player.destroy();
    },
    latency: buffered,
  };
}

/** video.play(), muted when the browser refuses sound without a click; resolves to whether it had to mute. */
export async function startVideo(video) {
  try {
    await video.play();
    return false;
  } catch (e) {
    if (e && e.name === "NotAllowedError") {
      video.muted = true;
      await video.play().catch(() => {});
      return true;
    }
    if (e && e.name === "AbortError") return false; // replaced by a newer load
    throw e;
  }
}
