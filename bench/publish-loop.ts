/**
 * Publishes a clip in a loop, in real time, with our RtmpClient. Meant to run as its own process so the
 * load generator's CPU use does not disturb it.
 *
 *   bun bench/publish-loop.ts --url rtmp://127.0.0.1:1935/live/bench [--clip FILE] [--seconds 120]
 *
 * Prints "PUBLISHING <bitrate>" once the server accepted the publish, then runs until --seconds elapsed
 * (or SIGTERM/SIGINT), and exits.
 */
import { parseArgs } from "node:util";
import { RtmpClient } from "../lib/protocols/rtmp/client.ts";
import { DEFAULT_CLIP, loadClip, loopTags } from "./clip.ts";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "rtmp://127.0.0.1:1935/live/bench" },
    clip: { type: "string", default: DEFAULT_CLIP },
    seconds: { type: "string", default: "120" },
  },
});

const clip = loadClip(values.clip);
const maxMs = Math.min(Number(values.seconds) * 1000, 3_600_000);
const client = await RtmpClient.connect(values.url!, { timeoutMs: 10000 });
await client.publish();
console.log(`PUBLISHING ${Math.round(clip.bitrate)} bps, clip ${clip.durationMs} ms, ${values.url}`);

let stop = false;
let closing = false;
const finish = () => (stop = true);
process.on("SIGTERM", finish);
process.on("SIGINT", finish);
client.closed.then(() => {
  if (closing) return;
  console.error("publish-loop: connection closed by server");
  process.exit(2);
});

const t0 = performance.now();
let sent = 0;
for (const tag of loopTags(clip)) {
  if (stop) break;
  const due = t0 + tag.timestamp;
  if (due - t0 > maxMs) break;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  if (stop) break;
  client.sendMedia(tag.kind, tag.timestamp, tag.data);
  sent++;
  if (sent % 64 === 0) await client.drain();
}
console.log(`publish-loop: done, ${sent} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
closing = true;
await client.close();
process.exit(0);
