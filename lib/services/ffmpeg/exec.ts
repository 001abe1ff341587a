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
import type { StreamHub } from "../../hub/stream-hub.ts";
import { streamWithQuery, tcUrlHost } from "../../net/stream-url.ts";
import { execCommand } from "./args.ts";
import { PerStreamProcesses } from "./per-stream.ts";
import { SupervisedProcess } from "./process.ts";

export class ExecService extends PerStreamProcesses {
  protected processesFor(hub: StreamHub): SupervisedProcess[] {
    const { vhost, app, stream } = hub.key;
    const cfg = this.ctx.config.vhost(vhost)?.exec;
    if (!cfg?.enabled || !cfg.publish.length) return [];
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
    return list;
  }
}
