/**
 * SRT through the proxy (SRS 7 proxy/srt.go), on PROXY_SRT_SERVER (UDP). The caller-listener handshake (SRT RFC
 * draft-sharabayko-srt-01 4.3.1, HSv5): the proxy answers the client's INDUCTION itself (a SYN cookie of its own),
 * reads the stream id (the SID extension, 3.2.1.3) of its CONCLUSION, picks the stream's origin, then plays the
 * caller towards that origin: the client's INDUCTION, and its CONCLUSION with the origin's cookie. The origin's
 * CONCLUSION answer goes back to the client (with the proxy's cookie), and from then on every datagram of that
 * client address is relayed to the origin and back, untouched (ACKs, NAKs, keepalives, encryption: end to end).
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { Log } from "../log/logger.ts";
import {
  CookieJar, decodeHandshake, decodeSid, EXT_SID, HS_CONCLUSION, HS_INDUCTION, type Handshake, encodeHandshake,
  peerIpBytes, SRT_MAGIC,
} from "../protocols/srt/handshake.ts";
import { CTRL_HANDSHAKE, HEADER_SIZE, readU32, writeControlHeader, writeU32 } from "../protocols/srt/packet.ts";
import { parseSrtStreamId } from "../protocols/srt/streamid.ts";
import { describeBackend, firstPort } from "./backend.ts";
import type { LoadBalancer } from "./lb.ts";
import { srtStreamUrl } from "./stream-url.ts";
import { listenUdp, type UdpListener } from "./udp.ts";

/** A relay with no datagram for this long is closed (SRT sends a keepalive every second). */
const IDLE_MS = 15_000;
const MAX_RELAYS = 4096;
/** How long the origin may take to answer one handshake step. */
const ORIGIN_STEP_MS = 3000;

/** Offset of the cookie in a handshake packet: the header, then CIF word 7 (4.3). */
const COOKIE_AT = HEADER_SIZE + 28;
/** First header word of a handshake: F bit set, control type HANDSHAKE, subtype 0 (3.2). */
const HANDSHAKE_WORD0 = (0x80000000 | (CTRL_HANDSHAKE << 16)) >>> 0;

/** A control packet of type 0 (handshake)? (3.2: F bit set, control type 0, subtype 0). */
export function isHandshake(d: Uint8Array): boolean {
  return d.length >= HEADER_SIZE + 48 && readU32(d, 0) === HANDSHAKE_WORD0;
}

/** The stream id in a CONCLUSION request, or undefined. */
export function conclusionStreamId(hs: Handshake): string | undefined {
  const e = hs.extensions.find((x) => x.type === EXT_SID);
  return e ? decodeSid(e.data) : undefined;
}

interface Relay {
  key: string;
  client: RemoteInfo;
  induction: Uint8Array;
  cookie: number;
  state: "induced" | "connecting" | "relaying";
  toOrigin?: Socket;
  originCookie?: number;
  last: number;
}

export class SrtProxy {
  private relays = new Map<string, Relay>();
  private jar = new CookieJar();
  private udp: UdpListener | undefined;
  private readonly start = Date.now();

  constructor(private lb: LoadBalancer, private log: Log) {}

  async listen(value: string): Promise<void> {
    this.udp = await listenUdp(value, "SRT", this.log, (d, r) => this.onDatagram(d, r), () => this.expire());
  }

  /** The UDP port listened on (0 before listen()). */
  get port(): number {
    return this.udp?.port ?? 0;
  }

  close(): void {
    for (const r of this.relays.values()) r.toOrigin?.close();
    this.relays.clear();
    this.udp?.close();
  }

  private onDatagram(d: Uint8Array, from: RemoteInfo): void {
    const key = `${from.address}:${from.port}`;
    const relay = this.relays.get(key);
    if (relay?.state === "relaying") {
      relay.last = Date.now();
      relay.client = from;
      if (isHandshake(d) && relay.originCookie !== undefined) {
        // A repeated CONCLUSION (our answer was lost): the origin knows it by its own cookie.
        const copy = new Uint8Array(d);
        writeU32(copy, COOKIE_AT, relay.originCookie);
        relay.toOrigin!.send(copy);
      } else relay.toOrigin!.send(d);
      return;
    }
    if (!isHandshake(d)) return;
    let hs: Handshake;
    try {
      hs = decodeHandshake(d.subarray(HEADER_SIZE));
    } catch {
      return;
    }
    if (hs.type === HS_INDUCTION) {
      if (relay?.state === "connecting") return;
      if (!relay && this.relays.size >= MAX_RELAYS) return;
      const cookie = this.jar.make(from.address, from.port);
      this.relays.set(key, { key, client: from, induction: new Uint8Array(d), cookie, state: "induced", last: Date.now() });
      this.udp?.sock.send(this.inductionAnswer(hs, cookie, from), from.port, from.address);
      return;
    }
    if (hs.type === HS_CONCLUSION && relay?.state === "induced" && hs.cookie === relay.cookie) {
      relay.state = "connecting";
      relay.last = Date.now();
      void this.connectOrigin(relay, hs, new Uint8Array(d)).catch((e: Error) => {
        this.log.warn(`proxy: SRT ${key}: ${e.message}`);
        relay.toOrigin?.close();
        this.relays.delete(key);
      });
    }
  }

  /** Our INDUCTION answer (4.3.1.1): version 5, the SRT magic, our cookie. */
  private inductionAnswer(req: Handshake, cookie: number, from: RemoteInfo): Uint8Array {
    const cif = encodeHandshake({
      ...req, version: 5, encryption: 0, extension: SRT_MAGIC, type: HS_INDUCTION, cookie,
      peerIp: peerIpBytes(from.address), extensions: [],
    });
    const out = new Uint8Array(HEADER_SIZE + cif.length);
    writeControlHeader(out, CTRL_HANDSHAKE, 0, 0, (Date.now() - this.start) * 1000, req.socketId);
    out.set(cif, HEADER_SIZE);
    return out;
  }

  private async connectOrigin(relay: Relay, hs: Handshake, conclusion: Uint8Array): Promise<void> {
    const sid = conclusionStreamId(hs) ?? "";
    const id = parseSrtStreamId(sid);
    const streamUrl = srtStreamUrl(id.vhost, id.app, id.stream);
    const b = await this.lb.pick(streamUrl);
    const port = firstPort(b.srt);
    if (port < 0) throw new Error(`${streamUrl}: origin ${describeBackend(b)} has no SRT port`);
    const sock = createSocket(b.ip.includes(":") ? "udp6" : "udp4");
    relay.toOrigin = sock;
    await new Promise<void>((resolve) => sock.connect(port, b.ip, () => resolve()));
    const next = (send: Uint8Array, what: string): Promise<Uint8Array> => new Promise((resolve, reject) => {
      const again = setInterval(() => sock.send(send), 250);
      const t = setTimeout(() => {
        clearInterval(again);
        sock.off("message", on);
        reject(new Error(`${streamUrl}: origin ${b.ip}:${port} did not answer the ${what}`));
      }, ORIGIN_STEP_MS);
      const on = (m: Buffer) => {
        if (!isHandshake(m)) return;
        clearInterval(again);
        clearTimeout(t);
        sock.off("message", on);
        resolve(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
      };
      sock.on("message", on);
      sock.send(send);
    });
    const induced = await next(relay.induction, "induction");
    const originCookie = readU32(induced, COOKIE_AT);
    relay.originCookie = originCookie;
    const toOrigin = new Uint8Array(conclusion);
    writeU32(toOrigin, COOKIE_AT, originCookie);
    const answer = new Uint8Array(await next(toOrigin, "conclusion"));
    const type = readU32(answer, HEADER_SIZE + 20);
    writeU32(answer, COOKIE_AT, relay.cookie);
    sock.on("message", (m) => {
      relay.last = Date.now();
      this.udp?.sock.send(m, relay.client.port, relay.client.address);
    });
    this.udp?.sock.send(answer, relay.client.port, relay.client.address);
    if (type !== HS_CONCLUSION) throw new Error(`${streamUrl}: origin ${b.ip}:${port} rejected (handshake type ${type})`);
    relay.state = "relaying";
    this.log.trace(`proxy: SRT ${id.mode} ${streamUrl} ${relay.key} <-> origin ${b.ip}:${port} (${describeBackend(b)})`);
  }

  private expire(): void {
    const now = Date.now();
    for (const [k, r] of this.relays) {
      if (now - r.last < IDLE_MS) continue;
      r.toOrigin?.close();
      this.relays.delete(k);
      if (r.state === "relaying") this.log.trace(`proxy: SRT ${k} idle, closed`);
    }
  }
}
