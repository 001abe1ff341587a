/**
 * The proxy's RTMP server (SRS 7 proxy/rtmp.go): a client's session is answered here up to its `publish` or
 * `play` (connect, createStream, releaseStream/FCPublish), which names the stream; the stream's origin is picked
 * (lib/proxy/lb.ts), the proxy opens its own RTMP session to it (connect with the client's connect properties,
 * createStream, then the client's publish/play), and from then on every message is relayed both ways with the
 * message stream ids mapped. Control messages (chunk size, acks, pings) are per hop (rtmp-hop.ts). What the origin
 * answers (Publish.Start, Play.Start, StreamNotFound, a rejection) reaches the client as the origin said it.
 */
import { createServer, connect, type Server as NetServer, type Socket } from "node:net";
import type { Amf0Object } from "../formats/amf0.ts";
import type { Log } from "../log/logger.ts";
import { parseEndpoint } from "../net/endpoint.ts";
import {
  commandMessage, connectResult, createStreamResult, decodeCommand, onStatus, simpleResult,
} from "../protocols/rtmp/commands.ts";
import {
  MSG_AMF0_COMMAND, MSG_AMF3_COMMAND, MSG_USER_CONTROL, parseUserControl, type RtmpMessage, userControlMessage,
  windowAckSizeMessage, setPeerBandwidthMessage,
} from "../protocols/rtmp/messages.ts";
import { describeBackend, firstPort } from "./backend.ts";
import type { LoadBalancer } from "./lb.ts";
import { RtmpHop } from "./rtmp-hop.ts";
import { rtmpStreamUrl } from "./stream-url.ts";

/** The stream id the proxy gives its clients (as SRS: 1). */
const CLIENT_SID = 1;
/** How long a client may take to reach publish/play, and an origin to answer each step. */
const SETUP_TIMEOUT_MS = 10_000;

const isCommand = (m: RtmpMessage) => m.type === MSG_AMF0_COMMAND || m.type === MSG_AMF3_COMMAND;

export interface ProxyListenerDeps {
  lb: LoadBalancer;
  log: Log;
}

export class RtmpProxy {
  private server: NetServer | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private d: ProxyListenerDeps) {}

  async listen(value: string): Promise<void> {
    const ep = parseEndpoint(value);
    const srv = createServer((s) => this.accept(s));
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(ep.port, ep.host, () => resolve());
    });
    const a = srv.address();
    this.port = typeof a === "object" && a ? a.port : ep.port;
    this.d.log.trace(`proxy: RTMP listening on ${ep.host}:${this.port}`);
  }

  /** Stops accepting and ends every relay now. */
  close(): void {
    this.server?.close();
    for (const s of this.sockets) s.destroy();
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.once("close", () => this.sockets.delete(sock));
    sock.setNoDelay(true);
    const log = this.d.log.child();
    new RtmpProxySession(sock, this.d.lb, log, (s) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    }).run().catch((e: Error) => {
      log.warn(`proxy: RTMP client ${sock.remoteAddress}:${sock.remotePort}: ${e.message}`);
      sock.destroy();
    });
  }
}

class RtmpProxySession {
  private client: RtmpHop;

  constructor(sock: Socket, private lb: LoadBalancer, private log: Log, private track: (s: Socket) => void) {
    this.client = new RtmpHop(sock, "server", `client ${sock.remoteAddress}:${sock.remotePort}`);
  }

  async run(): Promise<void> {
    const c = this.client;
    await c.handshake(SETUP_TIMEOUT_MS);
    // 1. Answer the client until it says publish or play.
    let connectObj: Amf0Object = {};
    let tcUrl = "";
    let kind: "publish" | "play" | undefined;
    let args: RtmpMessage | undefined;
    let streamName = "";
    const deadline = Date.now() + SETUP_TIMEOUT_MS;
    while (!kind) {
      const m = await c.expect(isCommand, Math.max(1, deadline - Date.now()), "publish or play");
      const cmd = decodeCommand(m.payload, m.type);
      if (cmd.name === "connect") {
        connectObj = (cmd.commandObject && typeof cmd.commandObject === "object" && !Array.isArray(cmd.commandObject))
          ? cmd.commandObject as Amf0Object : {};
        tcUrl = typeof connectObj.tcUrl === "string" ? connectObj.tcUrl : "";
        c.send(windowAckSizeMessage(2_500_000));
        c.send(setPeerBandwidthMessage(2_500_000));
        const enc = typeof connectObj.objectEncoding === "number" ? connectObj.objectEncoding : 0;
        c.send(connectResult({ transactionId: cmd.transactionId, objectEncoding: enc, data: { srs_server: "srs-ts proxy" } }));
      } else if (cmd.name === "createStream") {
        c.send(createStreamResult(cmd.transactionId, CLIENT_SID));
      } else if (cmd.name === "publish" || cmd.name === "play") {
        kind = cmd.name;
        args = m;
        streamName = typeof cmd.args[0] === "string" ? cmd.args[0] : "";
      } else if (cmd.transactionId > 0) {
        c.send(simpleResult(cmd.transactionId));
      }
    }
    if (!tcUrl) throw new Error(`${kind} before connect (no tcUrl)`);
    const streamUrl = rtmpStreamUrl(tcUrl, streamName);
    const status = (code: string, description: string) =>
      c.send(onStatus(CLIENT_SID, { level: "error", code, description }));
    const refuse = kind === "publish" ? "NetStream.Publish.BadName" : "NetStream.Play.StreamNotFound";

    // 2. The origin.
    let backend;
    try {
      backend = await this.lb.pick(streamUrl);
    } catch (e) {
      status(refuse, `proxy: ${(e as Error).message}`);
      throw new Error(`${kind} ${streamUrl}: ${(e as Error).message}`);
    }
    const port = firstPort(backend.rtmp);
    if (port < 0) {
      status(refuse, "proxy: the origin has no RTMP port");
      throw new Error(`${kind} ${streamUrl}: origin ${describeBackend(backend)} has no RTMP port`);
    }
    this.log.trace(`proxy: RTMP ${kind} ${streamUrl} -> origin ${backend.ip}:${port} (${describeBackend(backend)})`);
    const osock = connect({ host: backend.ip, port });
    osock.setNoDelay(true);
    this.track(osock);
    const origin = new RtmpHop(osock, "client", `origin ${backend.ip}:${port}`);
    const closeBoth = () => {
      c.close();
      origin.close();
    };
    c.sock.once("close", closeBoth);
    osock.once("close", closeBoth);
    let originSid: number;
    try {
      await origin.handshake(SETUP_TIMEOUT_MS);
      origin.send(commandMessage(["connect", 1, connectObj]));
      const res = await origin.expect((m) => isCommand(m) && decodeCommand(m.payload, m.type).transactionId === 1,
        SETUP_TIMEOUT_MS, "connect result");
      const r = decodeCommand(res.payload, res.type);
      if (r.name !== "_result") {
        // Relay the origin's refusal (e.g. a 302 redirect or a rejected token) as its onStatus.
        const info = r.args[0];
        const o = (info && typeof info === "object" && !Array.isArray(info)) ? info as Amf0Object : {};
        c.send(commandMessage(["onStatus", 0, null, o], CLIENT_SID));
        throw new Error(`origin refused connect: ${String(o.code ?? r.name)} ${String(o.description ?? "")}`);
      }
      origin.send(commandMessage(["createStream", 2, null]));
      const cs = await origin.expect((m) => isCommand(m) && decodeCommand(m.payload, m.type).transactionId === 2,
        SETUP_TIMEOUT_MS, "createStream result");
      const sid = decodeCommand(cs.payload, cs.type).args[0];
      if (typeof sid !== "number") throw new Error(`origin answered createStream without a stream id`);
      originSid = sid;
    } catch (e) {
      status(refuse, `proxy: origin ${backend.ip}:${port}: ${(e as Error).message}`);
      closeBoth();
      throw e;
    }

    // 3. Relay, the client's publish/play first.
    const toOrigin = (m: RtmpMessage): RtmpMessage => mapStream(m, CLIENT_SID, originSid);
    const toClient = (m: RtmpMessage): RtmpMessage => mapStream(m, originSid, CLIENT_SID);
    pipe(origin, c, toClient);
    origin.send(toOrigin(args!));
    pipe(c, origin, toOrigin);
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      if (c.sock.destroyed || osock.destroyed) resolve();
      c.sock.once("close", () => resolve());
      osock.once("close", () => resolve());
    });
    this.log.trace(`proxy: RTMP ${kind} ${streamUrl} done after ${((Date.now() - t0) / 1000).toFixed(1)}s, ` +
      `client in=${c.bytesIn} out=${c.bytesOut}, origin in=${origin.bytesIn} out=${origin.bytesOut}` +
      `${c.failed ? ` (${c.failed.message})` : ""}`);
  }
}

/** Relays `from`'s messages to `to`, pausing `from` while `to`'s socket buffer is full. */
function pipe(from: RtmpHop, to: RtmpHop, map: (m: RtmpMessage) => RtmpMessage): void {
  from.relayTo((m) => {
    if (!to.send(map(m)) && !from.sock.isPaused()) {
      from.sock.pause();
      to.sock.once("drain", () => from.sock.resume());
    }
  });
}

/** The message on the other hop's stream id (also the stream id inside User Control events, spec 7.1.7). */
function mapStream(m: RtmpMessage, from: number, to: number): RtmpMessage {
  if (m.type === MSG_USER_CONTROL) {
    const ev = parseUserControl(m.payload);
    if (ev.value === from) return { ...userControlMessage(ev.event, to, ev.bufferLength), timestamp: m.timestamp };
    return m;
  }
  if (m.streamId !== from) return m;
  return { ...m, streamId: to };
}
