/** Operations sections: `exporter` (Prometheus), `stats`, `circuit_breaker`, `threads`. */
import type { Scope } from "./env.ts";

export interface ExporterConfig {
  enabled: boolean;
  listen: string;
  label: string;
  tag: string;
}

export interface StatsConfig {
  enabled: boolean;
  network: number;
  disk: string[];
}

export interface CircuitBreakerConfig {
  enabled: boolean;
  highThreshold: number;
  highPulse: number;
  criticalThreshold: number;
  criticalPulse: number;
  dyingThreshold: number;
  dyingPulse: number;
}

/** `exporter`, from the global scope `g`. */
export function exporterOf(g: Scope): ExporterConfig {
  const s = g.child("exporter");
  return { enabled: s.boolOn("enabled"), listen: s.str("listen", "9972"), label: s.str("label", ""), tag: s.str("tag", "") };
}

/** `stats`, from the global scope `g`. */
export function statsOf(g: Scope): StatsConfig {
  const s = g.child("stats");
  return { enabled: s.boolNotOff("enabled"), network: s.int("network", 0), disk: s.list("disk", []) };
}

/** `circuit_breaker`, from the global scope `g`. */
export function circuitBreakerOf(g: Scope): CircuitBreakerConfig {
  const s = g.child("circuit_breaker");
  return {
    enabled: s.boolNotOff("enabled"),
    highThreshold: s.int("high_threshold", 90),
    highPulse: s.int("high_pulse", 2),
    criticalThreshold: s.int("critical_threshold", 95),
    criticalPulse: s.int("critical_pulse", 1),
    dyingThreshold: s.int("dying_threshold", 99),
    dyingPulse: s.int("dying_pulse", 5),
  };
}
