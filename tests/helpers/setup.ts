import { CLIP_NAMES, makeClip } from "./media.ts";
// Make sure every clip exists before tests start (a few seconds the first time, then nothing).
for (const name of CLIP_NAMES) makeClip(name);
