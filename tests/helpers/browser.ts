/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, with the flags WebRTC needs on
 * loopback (below), a fake camera/microphone and a fresh profile.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";
import { tempDir } from "./temp.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * `executablePath`: another command to run (e.g. a script running Chromium in a network namespace); `args`:
 * flags added to the ones below.
 */
export async function launchBrowser(opts: { executablePath?: string; args?: string[] } = {}): Promise<TestBrowser> {
  const dir = tempDir("srs-ts-chromium-");
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: opts.executablePath ?? CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required",
      "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
      ...(opts.args ?? []),
    ],
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
