/** The vhost's `forward` block. */
import type { Scope } from "./env.ts";

export interface ForwardConfig {
  enabled: boolean;
  destination: string[];
  backend: string;
}

/** The vhost's `forward` block `s` (no env overrides). */
export function forwardOf(s: Scope): ForwardConfig {
  return { enabled: s.boolOn("enabled"), destination: s.list("destination"), backend: s.str("backend", "") };
}
