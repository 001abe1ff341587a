/** srs-ts command line: `srs [-c FILE] [-t] [-e] [-v] [-h]`. (Placeholder until the CLI lands.) */
import { VERSION } from "./lib/version.ts";

const args = process.argv.slice(2);
if (args.includes("-v") || args.includes("-V")) {
  console.log(VERSION);
  process.exit(0);
}
console.log("srs-ts: server not wired yet");
