import { clip } from "./media.ts";
// Make sure every clip exists before tests start (takes ~15 s the first time, then nothing).
clip("clip.flv");
clip("clip-hevc.ts");
