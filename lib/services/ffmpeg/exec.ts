/**
 * Exec as SRS (`vhost { exec { enabled on; publish <program and arguments>; } }`, SrsNgExec): when any stream of
 * the vhost is published (ingest and transcode outputs too), each `publish` line runs with its variables filled
 * (args.ts execCommand: [vhost] [port] [app] [stream] [tcUrl] [swfUrl] [pageUrl] [url], time variables, `>` and
 * `2>` redirections); it is restarted when it exits, as SRS's 3 s cycle does, and gets SIGTERM at unpublish so it
 * can finish its file (SIGKILL 2 s later). A reload of `exec` applies at the next publish (as SRS: no reload
 * handler).
 *
 * [url] is `rtmp://127.0.0.1:<this server's RTMP port>/app/stream[?vhost=…]` (SRS puts the host the publisher
 * connected to; the loopback address reads the stream from this server whatever the publisher used: SRT,
 * WebRTC, a proxy). Output that is not redirected is kept in memory (the last lines, in the log on a failure and
 * in the API) rather than mixed into the server's own output.
 */
import { isWorkerCopy, type StreamHub } from "../../hub/stream-hub.ts";
import { streamWithQuery, tcUrlHost } from "../../net/stream-url.ts";
import { execCommand } from "./args.ts";
import type { FfmpegPorts } from "./ports.ts";
import { type ProcessInfo, SupervisedProcess } from "./process.ts";

export class ExecService {
  private active = new Map<StreamHub, SupervisedProcess[]>();

  constructor(private ctx: FfmpegPorts) {}

  start(): void {
    this.ctx.hubs.listen({
      onPublish: (hub) => this.onPublish(hub),
      onUnpublish: (hub) => void this.onUnpublish(hub),
    });
  }

  private onPublish(hub: StreamHub): void {
    if (isWorkerCopy(hub)) return; // the owner worker runs it
    const { vhost, app, stream } = hub.key;
    const cfg = this.ctx.config.vhost(vhost)?.exec;
    if (!cfg?.enabled || !cfg.publish.length) return;
    const port = this.ctx.rtmpPort() ?? 1935;
    const client = hub.publisher ? this.ctx.clients.get(hub.publisher.clientId) : undefined;
    const tcUrl = client?.tcUrl ?? "";
    const url = `rtmp://127.0.0.1:${port}/${app}/${streamWithQuery(tcUrlHost(tcUrl), vhost, stream, client?.param ?? "")}`;
    const list: SupervisedProcess[] = [];
    cfg.publish.forEach((argv, i) => {
      const cmd = execCommand(argv, { vhost, port, app, stream, tcUrl, swfUrl: client?.swfUrl ?? "", pageUrl: client?.pageUrl ?? "", url });
      if (!cmd.bin) return;
      list.push(new SupervisedProcess({
        kind: "exec",
        name: `${hub.name} publish#${i + 1}`,
        stream: hub.name,
        bin: cmd.bin,
        args: cmd.args,
        stdout: cmd.stdout,
        stderr: cmd.stderr,
        stopGraceMs: 2000,
      }, this.ctx.log));
    });
    if (!list.length) return;
    this.active.set(hub, list);
    for (const p of list) p.start();
  }

  private async onUnpublish(hub: StreamHub): Promise<void> {
    const list = this.active.get(hub);
    if (!list) return;
    this.active.delete(hub);
    // A server stop waits for these (within its budget); the parent-death signal covers the rest.
    await this.ctx.lifecycle.track(Promise.all(list.map((p) => p.stop())));
  }

  processes(): ProcessInfo[] {
    return [...this.active.values()].flatMap((l) => l.map((p) => p.info()));
  }

  async stop(): Promise<void> {
    const all = [...this.active.values()].flat();
    this.active.clear();
    await Promise.all(all.map((p) => p.stop()));
  }
}
