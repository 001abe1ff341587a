/** Prints the summary table of the RESULT lines run-rtmp.sh collected: `bun bench/summary.ts FILE`. */
import { readFileSync } from "node:fs";

interface Row {
  label: string;
  players: number;
  connected: number;
  full: number;
  mbps: number;
  minKbps: number;
  medianKbps: number;
  maxKbps: number;
  cpuPct: number;
  cpuPer100Mbps: number;
  rssPeakMb: number;
  rssEndMb: number;
  loadCpuPct: number;
}

const rows: Row[] = readFileSync(process.argv[2]!, "utf8").split("\n").filter((l) => l.startsWith("RESULT "))
  .map((l) => JSON.parse(l.slice(7)) as Row);
const head = ["server", "players", "full rate", "Mbps", "kbps min/med/max", "CPU %", "CPU/100Mbps", "RSS peak/end MB", "load CPU %"];
const body = rows.map((r) => [
  r.label,
  `${r.connected}/${r.players}`,
  `${r.full}/${r.players}`,
  r.mbps.toFixed(1),
  `${r.minKbps}/${r.medianKbps}/${r.maxKbps}`,
  r.cpuPct.toFixed(1),
  r.cpuPer100Mbps.toFixed(2) + "%",
  `${r.rssPeakMb.toFixed(0)}/${r.rssEndMb.toFixed(0)}`,
  r.loadCpuPct.toFixed(1),
]);
const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
const fmt = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(w[i]!)).join(" | ") + " |";
console.log(fmt(head));
console.log("|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|");
for (const b of body) console.log(fmt(b));
