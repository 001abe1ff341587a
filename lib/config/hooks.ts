/** The vhost's `http_hooks` block. */
import type { Scope } from "./env.ts";

export interface HttpHooksConfig {
  enabled: boolean;
  onConnect: string[];
  onClose: string[];
  onPublish: string[];
  onUnpublish: string[];
  onPlay: string[];
  onStop: string[];
  onDvr: string[];
  onHls: string[];
  onHlsNotify: string[];
}

/** The vhost's `http_hooks` block `s`. */
export function httpHooksOf(s: Scope): HttpHooksConfig {
  return {
    enabled: s.boolOn("enabled"),
    onConnect: s.list("on_connect"),
    onClose: s.list("on_close"),
    onPublish: s.list("on_publish"),
    onUnpublish: s.list("on_unpublish"),
    onPlay: s.list("on_play"),
    onStop: s.list("on_stop"),
    onDvr: s.list("on_dvr"),
    onHls: s.list("on_hls"),
    onHlsNotify: s.list("on_hls_notify"),
  };
}
