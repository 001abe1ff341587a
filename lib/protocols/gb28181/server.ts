/**
 * The GB28181 server of a `stream_caster { caster gb28181; }` block (GB/T 28181-2016; SRS 7's SrsGbListener):
 * an embedded SIP server (RFC 3261) on `sip.listen`, over TCP and UDP, and a TCP media port (`listen`) where
 * devices send PS over RTP framed per RFC 4571. No stream logic here: a device's media goes to the sink the
 * `openStream` port gives (the caster service publishes it).
 *
 * One device's life:
 *  1. REGISTER (9.1; From's user is the device id, which names the stream) -> 200 OK with Expires and Date.
 *     `Expires: 0` unregisters (the device and its stream end). No digest challenge (SRS does not ask either).
 *  2. INVITE to the device (9.2.2): Request-URI and To the device, From the server id (the REGISTER's
 *     Request-URI user), Subject `device:ssrc,server:0`, SDP offer (sdp.ts gbPlayOffer): `c=` the candidate,
 *     `m=video <listen> TCP/RTP/AVP 96`, `a=setup:passive` (the device connects to us), `y=` the SSRC (Appendix H).
 *     The device's 200 OK gets an ACK (RFC 3261 13.2.2.4); its SDP is only logged.
 *  3. The device connects to the media port; the first RTP packet's SSRC finds its device, then the stream opens
 *     (hooks, claim) and GbMediaReceiver turns RTP(PS) into MediaPackets.
 *  4. MESSAGE (Keepalive and other MANSCDP notifications, 9.6) -> 200 OK; from an unknown device -> 403 so it
 *     registers again (as SRS answers).
 *  5. The end: BYE from the device (-> 200 OK), REGISTER with Expires 0, the media connection closing or idle
 *     for `mediaIdleMs`, no media `sip.timeout` seconds after an INVITE (re-invited up to MAX_INVITES times, then
 *     the device is dropped), no SIP message for DEVICE_TIMEOUT_MS, or the device's SIP TCP connection closing
 *     while no media flows. Media that ended while the device is still registered is re-invited after
 *     `sip.reinvite` seconds.
 *
 * Without SIP (`sip { enabled off; }`, SRS's gb28181-without-sip.conf): only the media port listens; an external
 * SIP server makes each session through the HTTP API (bindSession: device id + SSRC, answered with the media port),
 * then the device's media is taken as above; no media within `sip.timeout`, or the media ending, ends the session.
 *
 * Bad input: a SIP stream that cannot be parsed (missing headers, huge bodies, bad lines: sip-stream.ts limits)
 * is logged and its connection closed; a bad datagram is logged (rate-limited) and dropped; a media connection
 * whose first packet names no invited SSRC is closed. Nothing a peer declares sizes a buffer beyond the parsers'
 * limits; a media connection holds at most MAX_PENDING_MEDIA bytes while its stream is being admitted; at most
 * MAX_DEVICES devices are registered at once (more: 503).
 */
import { createServer, type Server, type Socket } from "node:net";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { networkInterfaces } from "node:os";
import type { GbEngine, GbEngineOptions, GbSink } from "../../gb-engine.ts";
import type { Log } from "../../log/logger.ts";
import { GbMediaReceiver } from "./media.ts";
import { parseManscdp } from "./manscdp.ts";
import { gbPlayOffer, gbSsrc, parseGbSdp, writeGbSdp } from "./sdp.ts";
import { createAck, createBye, createRequest, createResponse, newCallId, newTag } from "./sip-build.ts";
import { parseSipDatagram, serializeSip, type SipMessage, type SipRequest, type SipResponse } from "./sip-message.ts";
import { SipStreamParser } from "./sip-stream.ts";
import { parseCSeq, parseNameAddr, parseSipUri } from "./sip-values.ts";


/** Invites without media before a device is dropped (SRS: SRS_GB_MAX_TIMEOUT). */
const MAX_INVITES = 3;
/** A device that sends no SIP message (REGISTER, keepalive) this long is gone (3 missed 60 s keepalives). */
const DEVICE_TIMEOUT_MS = 200_000;
const TICK_MS = 500;
const MAX_PENDING_MEDIA = 4 * 1024 * 1024;
const DROP_LOG_MS = 10_000;
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Registered devices at most (a flood of REGISTERs with made-up ids is answered 503). */
const MAX_DEVICES = 1000;

type SendSip = (m: SipMessage) => void;

interface SipLink {
  /** API: a session set up over HTTP by an external SIP server (no SIP here). */
  transport: "TCP" | "UDP" | "API";
  send: SendSip;
  /** Our address on this link (for Via / SDP when no candidate). */
  localHost: string;
  /** The device's address. */
  remote: string;
  socket?: Socket;
}

export interface GbDeviceInfo {
  id: string;
  state: string;
  transport: string;
  remote: string;
  ssrc: string;
  publishing: boolean;
}

class Device {
  state: "registered" | "inviting" | "invited" | "publishing" = "registered";
  ssrc = "";
  invite: SipRequest | undefined;
  inviteOk: SipResponse | undefined;
  cseq = 1;
  invites = 0;
  invitedAt = 0;
  lastSipAt = Date.now();
  reinviteAt = 0;
  media: MediaConn | undefined;
  constructor(readonly id: string, public link: SipLink, public register: SipRequest | undefined) {}
}

class MediaConn {
  receiver: GbMediaReceiver | undefined;
  sink: GbSink | undefined;
  lastDataAt = Date.now();
  pending: Buffer[] = [];
  pendingBytes = 0;
  device: Device | undefined;
  constructor(readonly socket: Socket) {}
}

export class GbServer implements GbEngine {
  private media: Server | undefined;
  private sipTcp: Server | undefined;
  private sipUdp: UdpSocket | undefined;
  private readonly devices = new Map<string, Device>();
  private readonly mediaConns = new Set<MediaConn>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastDropLog = 0;
  private stopped = false;
  boundMediaPort = 0;
  boundSipPort = 0;
  private readonly log: Log;

  constructor(private readonly o: GbEngineOptions) {
    this.log = o.log;
  }

  /** The registered devices (the API, the console). */
  deviceList(): GbDeviceInfo[] {
    return [...this.devices.values()].map((d) => ({
      id: d.id, state: d.state, transport: d.link.transport, remote: d.link.remote, ssrc: d.ssrc, publishing: d.state === "publishing",
    }));
  }

  async start(): Promise<void> {
    try {
      this.media = await listenTcp(this.o.mediaHost, this.o.mediaPort, (s) => this.onMediaConn(s));
      this.boundMediaPort = (this.media.address() as { port: number }).port;
      if (this.o.sip) {
        this.sipTcp = await listenTcp(this.o.sipHost, this.o.sipPort, (s) => this.onSipConn(s));
        this.boundSipPort = (this.sipTcp.address() as { port: number }).port;
        this.sipUdp = await listenUdp(this.o.sipHost, this.boundSipPort, (d, host, port) => this.onSipDatagram(d, host, port));
      }
    } catch (e) {
      await this.stop("start failed");
      throw e;
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref?.();
    if (!this.o.sip) {
      this.log.trace(`caster gb28181: sip disabled (sessions made through POST /gb/v1/publish/), media on tcp ` +
        `${this.o.mediaHost || "*"}:${this.boundMediaPort}, timeout=${this.o.timeoutSec}s`);
      return;
    }
    this.log.trace(`caster gb28181: sip on tcp+udp ${this.o.sipHost || "*"}:${this.boundSipPort}, media on tcp ${this.o.mediaHost || "*"}:${this.boundMediaPort}, ` +
      `candidate ${this.o.candidate || "(local address)"}, timeout=${this.o.timeoutSec}s reinvite=${this.o.reinviteSec}s`);
  }

  /**
   * A session an external SIP server set up (SRS's POST /gb/v1/publish/ {id, ssrc}): the device `id` will send
   * RTP with `ssrc` to the media port. Its media must come within `timeoutSec`; when it ends, the session ends.
   * Returns the media port, or why not.
   */
  bindSession(id: string, ssrc: string): { port: number } | string {
    if (!DEVICE_ID.test(id)) return `bad id ${JSON.stringify(id.slice(0, 80))}`;
    if (!/^\d{1,10}$/.test(ssrc) || Number(ssrc) > 0xffffffff) return `bad ssrc ${JSON.stringify(ssrc.slice(0, 20))}`;
    if (this.devices.has(id)) return "stream already exists";
    if ([...this.devices.values()].some((d) => Number(d.ssrc) === Number(ssrc))) return "ssrc already exists";
    if (this.devices.size >= MAX_DEVICES) return `${MAX_DEVICES} sessions already`;
    const d = new Device(id, { transport: "API", send: () => undefined, localHost: "", remote: "api" }, undefined);
    d.ssrc = ssrc;
    d.state = "invited";
    d.invitedAt = Date.now();
    d.invites = MAX_INVITES; // nobody to re-invite: no media within the timeout ends it
    this.devices.set(id, d);
    this.log.trace(`caster gb28181: session ${id} ssrc=${ssrc} made through the API, media on tcp ${this.boundMediaPort}`);
    return { port: this.boundMediaPort };
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const d of [...this.devices.values()]) this.dropDevice(d, reason, true);
    for (const c of [...this.mediaConns]) this.closeMedia(c, reason);
    const closes: Promise<void>[] = [];
    for (const s of [this.media, this.sipTcp]) if (s) closes.push(new Promise((r) => s.close(() => r())));
    if (this.sipUdp) {
      const u = this.sipUdp;
      closes.push(new Promise((r) => {
        try {
          u.close(() => r());
        } catch {
          r();
        }
      }));
    }
    this.media = this.sipTcp = undefined;
    this.sipUdp = undefined;
    await Promise.all(closes);
  }

  // ---- SIP transports (RFC 3261 18) ----

  private onSipConn(socket: Socket): void {
    const parser = new SipStreamParser();
    const remote = `${socket.remoteAddress?.replace(/^::ffff:/, "")}:${socket.remotePort}`;
    const link: SipLink = {
      transport: "TCP", remote, socket, localHost: (socket.localAddress ?? "127.0.0.1").replace(/^::ffff:/, ""),
      send: (m) => {
        if (!socket.destroyed) socket.write(serializeSip(m));
      },
    };
    socket.setNoDelay(true);
    // a SIP connection silent for longer than a device may be (3 missed keepalives) is closed
    socket.setTimeout(DEVICE_TIMEOUT_MS, () => {
      this.log.warn(`caster gb28181: sip tcp ${remote}: nothing for ${DEVICE_TIMEOUT_MS / 1000}s, connection closed`);
      socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      let msgs: SipMessage[];
      try {
        msgs = parser.push(chunk);
      } catch (e) {
        this.log.warn(`caster gb28181: sip tcp ${remote}: ${(e as Error).message}, connection closed`);
        socket.destroy();
        return;
      }
      for (const m of msgs) this.onSip(m, link);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      for (const d of [...this.devices.values()]) {
        if (d.link !== link) continue;
        if (d.state === "publishing") {
          d.link = { ...link, send: () => undefined }; // media goes on; nothing more can be said to the device
          this.log.trace(`caster gb28181: device ${d.id}: sip connection ${remote} closed, media goes on`);
        } else this.dropDevice(d, `sip connection ${remote} closed`, false);
      }
    });
  }

  private onSipDatagram(d: Uint8Array, host: string, port: number): void {
    if (d.every((b) => b === 0x0d || b === 0x0a)) return; // keepalive CRLFs (RFC 5626 4.4.1)
    let msg: SipMessage;
    try {
      msg = parseSipDatagram(d);
    } catch (e) {
      const now = Date.now();
      if (now - this.lastDropLog > DROP_LOG_MS) {
        this.lastDropLog = now;
        this.log.warn(`caster gb28181: sip udp ${host}:${port}: ${(e as Error).message}, dropped`);
      }
      return;
    }
    const udp = this.sipUdp;
    const link: SipLink = {
      transport: "UDP", remote: `${host}:${port}`, localHost: "",
      send: (m) => udp?.send(serializeSip(m), port, host),
    };
    this.onSip(msg, link);
  }

  // ---- SIP dialogs ----

  private onSip(m: SipMessage, link: SipLink): void {
    if (this.stopped) return;
    try {
      if (m.type === "response") return this.onResponse(m, link);
      switch (m.method) {
        case "REGISTER": return this.onRegister(m, link);
        case "MESSAGE": return this.onMessage(m, link);
        case "BYE": return this.onBye(m, link);
        case "ACK": return;
        case "OPTIONS":
        case "NOTIFY":
        case "INFO":
          link.send(createResponse(m, 200));
          return;
        default:
          link.send(createResponse(m, 405, { headers: [["Allow", "REGISTER, MESSAGE, INVITE, ACK, BYE, OPTIONS, NOTIFY, INFO"]] }));
      }
    } catch (e) {
      this.log.warn(`caster gb28181: sip ${link.transport} ${link.remote}: ${m.type === "request" ? m.method : m.status}: ${(e as Error).message}`);
    }
  }

  private deviceIdOf(m: SipMessage): string | undefined {
    const from = parseNameAddr(m.headers.get("From") ?? "");
    const user = from ? parseSipUri(from.uri)?.user : undefined;
    return user && DEVICE_ID.test(user) ? user : undefined;
  }

  private onRegister(m: SipRequest, link: SipLink): void {
    const id = this.deviceIdOf(m);
    if (!id) {
      this.log.warn(`caster gb28181: sip ${link.transport} ${link.remote}: REGISTER with no usable device id in From ${JSON.stringify(m.headers.get("From"))}`);
      link.send(createResponse(m, 400, { reason: "Bad From" }));
      return;
    }
    const expires = Number((m.headers.get("Expires") ?? "3600").trim());
    const date = new Date().toISOString().slice(0, 23); // GB/T 28181-2016 9.1.2.1: Date in 200 OK (time sync)
    const headers: [string, string][] = [["Expires", String(Number.isFinite(expires) ? expires : 3600)], ["Date", date]];
    const contact = m.headers.get("Contact");
    if (contact) headers.push(["Contact", contact]);
    let d = this.devices.get(id);
    if (expires === 0) {
      link.send(createResponse(m, 200, { headers }));
      if (d) this.dropDevice(d, "unregistered (REGISTER Expires 0)", false);
      return;
    }
    if (!d) {
      if (this.devices.size >= MAX_DEVICES) {
        this.log.warn(`caster gb28181: device ${id} refused: ${MAX_DEVICES} devices registered`);
        link.send(createResponse(m, 503));
        return;
      }
      d = new Device(id, link, m);
      this.devices.set(id, d);
      link.send(createResponse(m, 200, { headers }));
      this.log.trace(`caster gb28181: device ${id} registered over ${link.transport} from ${link.remote}`);
    } else {
      link.send(createResponse(m, 200, { headers }));
      d.link = link;
      d.register = m;
    }
    d.lastSipAt = Date.now();
    // SRS re-invites on a REGISTER that comes while inviting (the device may have restarted)
    if (d.state === "registered" || d.state === "inviting") this.sendInvite(d);
  }

  private onMessage(m: SipRequest, link: SipLink): void {
    const id = this.deviceIdOf(m);
    const d = id ? this.devices.get(id) : undefined;
    if (!d) {
      link.send(createResponse(m, 403)); // RFC 3261 21.4.4: register first
      return;
    }
    d.lastSipAt = Date.now();
    if (link.transport === "UDP") d.link = link;
    try {
      const doc = parseManscdp(m.body);
      if (doc.cmdType !== "Keepalive") this.log.info(`caster gb28181: device ${d.id}: MESSAGE ${doc.root}/${doc.cmdType}`);
    } catch (e) {
      this.log.warn(`caster gb28181: device ${d.id}: MESSAGE body: ${(e as Error).message}`);
      link.send(createResponse(m, 400));
      return;
    }
    link.send(createResponse(m, 200));
  }

  private onBye(m: SipRequest, link: SipLink): void {
    link.send(createResponse(m, 200));
    const callId = m.headers.get("Call-ID");
    for (const d of this.devices.values()) {
      if (d.invite?.headers.get("Call-ID") === callId) {
        this.log.trace(`caster gb28181: device ${d.id}: BYE, stream ends`);
        this.dropDevice(d, "device sent BYE", false);
        return;
      }
    }
  }

  private onResponse(m: SipResponse, link: SipLink): void {
    const cseq = parseCSeq(m.headers.get("CSeq") ?? "");
    if (cseq?.method !== "INVITE") return; // BYE/MESSAGE answers
    const callId = m.headers.get("Call-ID");
    const d = [...this.devices.values()].find((x) => x.invite?.headers.get("Call-ID") === callId);
    if (!d || !d.invite) return;
    if (m.status < 200) return;
    if (m.status >= 300) {
      this.log.warn(`caster gb28181: device ${d.id} answered INVITE with ${m.status} ${m.reason}`);
      return; // the media timeout re-invites
    }
    d.inviteOk = m;
    link.send(createAck(d.invite, m, this.via(d)));
    if (d.state === "inviting") d.state = "invited";
    let where = "";
    try {
      const sdp = parseGbSdp(new TextDecoder().decode(m.body));
      where = ` (device sends from ${sdp.address}:${sdp.media[0]?.port} ${sdp.media[0]?.proto}, ssrc ${sdp.ssrc ?? "?"})`;
    } catch (e) {
      where = ` (its SDP: ${(e as Error).message})`;
    }
    this.log.trace(`caster gb28181: device ${d.id} accepted INVITE ssrc=${d.ssrc}${where}`);
  }

  private candidate(d: Device): string {
    const c = this.o.candidate;
    if (c && c !== "*" && !c.startsWith("$")) return c;
    if (d.link.localHost) return d.link.localHost;
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
    }
    return "127.0.0.1";
  }

  private via(d: Device): { transport: "TCP" | "UDP"; host: string; port: number } {
    return { transport: d.link.transport === "UDP" ? "UDP" : "TCP", host: this.candidate(d), port: this.boundSipPort };
  }

  private newSsrc(d: Device): string {
    const uri = d.register ? parseSipUri(d.register.uri) : undefined;
    const domain = uri && /^\d{10}$/.test(uri.host) ? uri.host : uri?.user ?? "";
    for (let i = 0; i < 16; i++) {
      let s: string;
      try {
        s = gbSsrc({ history: false, domainId: domain, index: Math.floor(Math.random() * 10000) });
      } catch {
        s = gbSsrc({ history: false, domainId: "00000000", index: Math.floor(Math.random() * 10000) });
      }
      if (![...this.devices.values()].some((x) => x !== d && x.ssrc === s)) return s;
    }
    return String(Math.floor(Math.random() * 1e9)).padStart(10, "0");
  }

  /** INVITE for live video (GB/T 28181-2016 9.2.2.1), TCP media, we are passive. */
  private sendInvite(d: Device): void {
    if (!d.register) return; // a session made through the API: no SIP here
    if (!d.ssrc) d.ssrc = this.newSsrc(d);
    const reg = parseSipUri(d.register.uri);
    const serverId = reg?.user || "34020000002000000001";
    const serverHost = reg?.host ?? this.candidate(d);
    const dev = parseSipUri(parseNameAddr(d.register.headers.get("From") ?? "")?.uri ?? "");
    const deviceUri = `sip:${d.id}@${dev?.host ?? d.link.remote.split(":")[0]}`;
    const address = this.candidate(d);
    const sdp = writeGbSdp(gbPlayOffer({ serverId, address, port: this.boundMediaPort, tcp: true, ssrc: d.ssrc }));
    const callId = newCallId();
    d.invite = createRequest({
      method: "INVITE", uri: deviceUri, via: this.via(d), from: { uri: `sip:${serverId}@${serverHost}`, tag: newTag() },
      to: { uri: deviceUri }, callId, cseq: d.cseq++, contact: `sip:${serverId}@${address}:${this.boundSipPort}`,
      headers: [["Subject", `${d.id}:${d.ssrc},${serverId}:0`]], body: sdp, contentType: "Application/SDP",
    });
    d.inviteOk = undefined;
    d.state = "inviting";
    d.invites++;
    d.invitedAt = Date.now();
    this.log.trace(`caster gb28181: INVITE device ${d.id} (${d.invites}/${MAX_INVITES}) ssrc=${d.ssrc} media ${address}:${this.boundMediaPort} over ${d.link.transport}`);
    d.link.send(d.invite);
  }

  private dropDevice(d: Device, reason: string, sayBye: boolean): void {
    if (this.devices.get(d.id) !== d) return;
    this.devices.delete(d.id);
    if (sayBye && d.invite && d.inviteOk && d.link.transport !== "API") {
      try {
        d.link.send(createBye(d.invite, d.inviteOk, this.via(d), d.cseq++));
      } catch {
        // the device is going anyway
      }
    }
    if (d.media) this.closeMedia(d.media, reason);
    this.log.trace(`caster gb28181: device ${d.id} session ended: ${reason}`);
  }

  private tick(): void {
    const now = Date.now();
    for (const d of [...this.devices.values()]) {
      if (now - d.lastSipAt > DEVICE_TIMEOUT_MS && d.state !== "publishing") {
        this.dropDevice(d, `no SIP message for ${Math.round((now - d.lastSipAt) / 1000)}s`, false);
        continue;
      }
      if ((d.state === "inviting" || d.state === "invited") && now - d.invitedAt > this.o.timeoutSec * 1000) {
        if (d.link.transport === "API") {
          this.dropDevice(d, `no media ${this.o.timeoutSec}s after the session was set up`, false);
          continue;
        }
        this.log.warn(`caster gb28181: device ${d.id}: no media ${this.o.timeoutSec}s after INVITE ${d.invites}/${MAX_INVITES}`);
        if (d.invites >= MAX_INVITES) {
          this.dropDevice(d, `no media after ${d.invites} INVITEs`, true);
          continue;
        }
        if (d.inviteOk && d.invite) d.link.send(createBye(d.invite, d.inviteOk, this.via(d), d.cseq++));
        this.sendInvite(d);
      }
      if (d.state === "registered" && d.reinviteAt && now >= d.reinviteAt) {
        d.reinviteAt = 0;
        d.invites = 0;
        this.sendInvite(d);
      }
    }
    for (const c of [...this.mediaConns]) {
      if (now - c.lastDataAt > this.o.mediaIdleMs) this.closeMedia(c, `no media for ${now - c.lastDataAt}ms`);
    }
  }

  // ---- media (RFC 4571 framed RTP over TCP, GB/T 28181-2016 C.2) ----

  private onMediaConn(socket: Socket): void {
    const c = new MediaConn(socket);
    this.mediaConns.add(c);
    const remote = `${socket.remoteAddress?.replace(/^::ffff:/, "")}:${socket.remotePort}`;
    socket.on("data", (chunk: Buffer) => this.onMediaData(c, chunk, remote));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.closeMedia(c, `media connection ${remote} closed`));
  }

  private onMediaData(c: MediaConn, chunk: Buffer, remote: string): void {
    c.lastDataAt = Date.now();
    if (c.receiver) {
      c.sink?.addBytesIn(chunk.length);
      c.receiver.pushTcp(chunk);
      return;
    }
    c.pending.push(chunk);
    c.pendingBytes += chunk.length;
    if (c.device) {
      if (c.pendingBytes > MAX_PENDING_MEDIA) this.closeMedia(c, "stream admission too slow");
      return;
    }
    const head = Buffer.concat(c.pending);
    c.pending = [head];
    if (head.length < 14) return;
    // RFC 4571: 2-byte length, then the RTP packet; its SSRC (RFC 3550 5.1) at bytes 8..11
    if ((head[2]! & 0xc0) !== 0x80) return this.closeMedia(c, `media from ${remote} is not RTP over RFC 4571`);
    const ssrc = String(head.readUInt32BE(10));
    const d = [...this.devices.values()].find((x) => Number(x.ssrc) === Number(ssrc));
    if (!d) {
      this.log.warn(`caster gb28181: media from ${remote} with SSRC ${ssrc} that no device was invited with, closed`);
      return this.closeMedia(c, "unknown ssrc");
    }
    if (d.media) this.closeMedia(d.media, "the device reconnected its media");
    c.device = d;
    d.media = c;
    d.state = "publishing";
    const ip = remote.slice(0, remote.lastIndexOf(":"));
    void this.o.openStream({ deviceId: d.id, ip, port: Number(remote.slice(remote.lastIndexOf(":") + 1)) }).then((sink) => {
      if (typeof sink === "string") return this.closeMedia(c, `stream refused: ${sink}`);
      if (c.socket.destroyed || this.stopped) {
        sink.close("media connection closed");
        return;
      }
      c.sink = sink;
      sink.onClose((why) => this.closeMedia(c, why));
      c.receiver = new GbMediaReceiver((p) => sink.push(p), {
        ssrc: Number(ssrc), onError: (msg) => this.log.info(`caster gb28181: device ${d.id}: ${msg}`),
      });
      const pending = c.pending;
      c.pending = [];
      c.pendingBytes = 0;
      for (const b of pending) {
        sink.addBytesIn(b.length);
        c.receiver.pushTcp(b);
      }
    }, (e: Error) => this.closeMedia(c, `stream failed: ${e.message}`));
  }

  private closeMedia(c: MediaConn, reason: string): void {
    if (!this.mediaConns.delete(c)) return;
    c.pending = [];
    c.socket.destroy();
    c.receiver?.close();
    const st = c.receiver?.stats;
    const d = c.device;
    if (d) {
      this.log.trace(`caster gb28181: device ${d.id} media ended: ${reason}` +
        (st ? ` (rtp=${st.rtpPackets} lost=${st.lost} bad=${st.badRtp} foreign=${st.foreignSsrc} bytes=${st.payloadBytes})` : ""));
    }
    c.sink?.close(reason);
    if (d && d.media === c) {
      d.media = undefined;
      if (this.devices.get(d.id) === d && d.state === "publishing") {
        // the device stays registered: re-invited after sip.reinvite (SRS), unless its SIP link is gone
        if (d.link.transport === "API") this.dropDevice(d, "media ended", false);
        else if (d.link.transport === "TCP" && d.link.socket?.destroyed !== false) this.dropDevice(d, "media and sip connections gone", false);
        else {
          d.state = "registered";
          d.reinviteAt = Date.now() + this.o.reinviteSec * 1000;
        }
      }
    }
  }
}

function listenTcp(host: string, port: number, onConn: (s: Socket) => void): Promise<Server> {
  const srv = createServer(onConn);
  return new Promise((resolve, reject) => {
    srv.once("error", (e) => reject(new Error(`listen tcp ${host || "*"}:${port}: ${e.message}`)));
    srv.listen(port, host || undefined, () => resolve(srv));
  });
}

function listenUdp(host: string, port: number, onMsg: (d: Uint8Array, host: string, port: number) => void): Promise<UdpSocket> {
  const sock = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
  return new Promise((resolve, reject) => {
    sock.once("error", (e) => {
      sock.close();
      reject(new Error(`listen udp ${host || "*"}:${port}: ${e.message}`));
    });
    sock.bind(port, host || undefined, () => {
      sock.removeAllListeners("error");
      sock.on("error", () => undefined);
      sock.on("message", (d, r) => onMsg(d, r.address, r.port));
      resolve(sock);
    });
  });
}

