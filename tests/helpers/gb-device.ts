/**
 * A GB28181 device (IP camera) simulator for tests, on the project's own SIP pieces (lib/protocols/gb28181):
 *  - SIP over TCP or UDP to the server's SIP port: REGISTER (GB/T 28181-2016 9.1), MESSAGE Keepalive (9.6.1) on
 *    demand, answers the server's INVITE (9.2.2) with 200 OK + SDP, takes the ACK, answers BYE, can send BYE.
 *  - Media: reads the INVITE's SDP (c= address, m= port, y= SSRC), connects to that TCP port and sends RTP
 *    (RFC 3550, PT 96) carrying a GB28181-shaped program stream (tests/helpers/ps-mux.ts) made from an FFmpeg clip,
 *    framed per RFC 4571, paced in real time (each frame at its DTS), looping the clip with shifted timestamps.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { demuxTs } from "../../lib/formats/mpegts-demux.ts";
import { buildRtpPacket } from "../../lib/formats/rtp-packet.ts";
import { frame } from "../../lib/net/rfc4571.ts";
import { parseGbSdp, writeGbSdp } from "../../lib/protocols/gb28181/sdp.ts";
import { createRequest, createResponse, newCallId, newTag } from "../../lib/protocols/gb28181/sip-build.ts";
import { parseSipDatagram, serializeSip, type SipMessage, type SipRequest } from "../../lib/protocols/gb28181/sip-message.ts";
import { SipStreamParser } from "../../lib/protocols/gb28181/sip-stream.ts";
import { writeManscdp } from "../../lib/protocols/gb28181/manscdp.ts";
import { type ClipName, clip } from "./media.ts";
import { tempDir } from "./temp.ts";
import { esUnits, muxGb, type PsEsUnit } from "./ps-mux.ts";

export interface GbDeviceOptions {
  id: string;
  sipPort: number;
  transport: "TCP" | "UDP";
  clip?: ClipName;
  /** The audio sent: the clip's AAC (ADTS, PSM 0x0f) or G.711 A-law made by FFmpeg (PSM 0x90, as cameras send). */
  audio?: "aac" | "pcma";
  /** Answer INVITE but never send media. */
  noMedia?: boolean;
  serverId?: string;
}

/** A clip as groups of ES units: one video frame with the audio that follows it (a camera's pack). */
function clipGroups(name: ClipName, audio: "aac" | "pcma"): { groups: PsEsUnit[][]; psm: { streamType: number; streamId: number }[]; duration: number } {
  const source = demuxTs(readFileSync(clip(name)));
  const hevc = source.some((p) => p.codec === "h265");
  const psm = [{ streamType: hevc ? 0x24 : 0x1b, streamId: 0xe0 }, { streamType: audio === "pcma" ? 0x90 : 0x0f, streamId: 0xc0 }];
  let units = esUnits(source);
  if (audio === "pcma") {
    const video = units.filter((u) => u.streamId >= 0xe0);
    const g711 = alawUnits(video[0]?.dts ?? 0, (source[source.length - 1]?.dts ?? 0) / 1000);
    units = [...video, ...g711].sort((a, b) => a.dts - b.dts);
  }
  const groups: PsEsUnit[][] = [];
  for (const u of units) {
    if (u.streamId >= 0xe0 || groups.length === 0) groups.push([]);
    groups[groups.length - 1]!.push(u);
  }
  const last = source[source.length - 1]?.dts ?? 0;
  return { groups, psm, duration: last + 40 };
}

/** `seconds` of a 1 kHz tone as G.711 A-law (FFmpeg), in 40 ms units (320 bytes, 8 kHz mono) from `start` (90 kHz). */
function alawUnits(start: number, seconds: number): PsEsUnit[] {
  const file = join(tempDir("srs-ts-gb-alaw-"), "tone.alaw");
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    `sine=frequency=1000:sample_rate=8000:duration=${Math.ceil(seconds)}`, "-ac", "1", "-c:a", "pcm_alaw", "-f", "alaw", file]);
  const pcm = readFileSync(file);
  const out: PsEsUnit[] = [];
  for (let i = 0; (i + 1) * 320 <= pcm.length; i++) {
    const t = start + i * 40 * 90;
    out.push({ streamId: 0xc0, pts: t, dts: t, data: pcm.subarray(i * 320, (i + 1) * 320) });
  }
  return out;
}

export class GbDevice {
  readonly log: string[] = [];
  invites = 0;
  byes = 0;
  mediaBytes = 0;
  ssrc = 0;
  mediaPort = 0;
  private tcp: Socket | undefined;
  private udp: UdpSocket | undefined;
  private media: Socket | undefined;
  private cseq = 1;
  private readonly tag = newTag();
  private readonly callId = newCallId("127.0.0.1");
  private localPort = 0;
  private dialog: SipRequest | undefined;
  private stopMedia = false;
  private waiters: { what: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }[] = [];
  closed = false;

  constructor(readonly o: GbDeviceOptions) {}

  async connect(): Promise<void> {
    if (this.o.transport === "TCP") {
      const parser = new SipStreamParser();
      this.tcp = await new Promise<Socket>((resolve, reject) => {
        const s = connect(this.o.sipPort, "127.0.0.1", () => resolve(s));
        s.once("error", reject);
      });
      this.localPort = this.tcp.localPort!;
      this.tcp.on("data", (c: Buffer) => {
        try {
          for (const m of parser.push(c)) this.onSip(m);
        } catch (e) {
          this.log.push(`parse: ${(e as Error).message}`);
        }
      });
      this.tcp.on("close", () => (this.closed = true));
      this.tcp.on("error", () => undefined);
    } else {
      this.udp = createSocket("udp4");
      await new Promise<void>((r) => this.udp!.bind(0, "127.0.0.1", () => r()));
      this.localPort = this.udp.address().port;
      this.udp.on("message", (d) => {
        try {
          this.onSip(parseSipDatagram(d));
        } catch (e) {
          this.log.push(`parse: ${(e as Error).message}`);
        }
      });
    }
  }

  send(m: SipMessage): void {
    const b = serializeSip(m);
    if (this.tcp) this.tcp.write(b);
    else this.udp?.send(b, this.o.sipPort, "127.0.0.1");
  }

  /** Raw bytes on the SIP transport (bad input tests). */
  sendRaw(b: Uint8Array | string): void {
    if (this.tcp) this.tcp.write(b);
    else this.udp?.send(typeof b === "string" ? Buffer.from(b) : b, this.o.sipPort, "127.0.0.1");
  }

  private via() {
    return { transport: this.o.transport, host: "127.0.0.1", port: this.localPort };
  }

  private request(method: string, body?: string, contentType?: string, extra: [string, string][] = []): SipRequest {
    const server = this.o.serverId ?? "34020000002000000001";
    return createRequest({
      method, uri: `sip:${server}@3402000000`, via: this.via(), from: { uri: `sip:${this.o.id}@3402000000`, tag: this.tag },
      to: { uri: method === "REGISTER" ? `sip:${this.o.id}@3402000000` : `sip:${server}@3402000000` },
      callId: method === "REGISTER" ? this.callId : newCallId(), cseq: this.cseq++, contact: `sip:${this.o.id}@127.0.0.1:${this.localPort}`,
      userAgent: "srs-ts test device", headers: extra, body, contentType,
    });
  }

  /** Waits for a message matching `what` (a response to our request, or a request from the server). */
  next(what: (m: SipMessage) => boolean, ms = 10000): Promise<SipMessage> {
    return new Promise((resolve, reject) => {
      const w = { what, resolve: (m: SipMessage) => {
        clearTimeout(t);
        resolve(m);
      } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`device ${this.o.id}: timeout waiting (${this.log.slice(-5).join(" | ")})`));
      }, ms);
      this.waiters.push(w);
    });
  }

  async register(expires = 3600): Promise<number> {
    const req = this.request("REGISTER", undefined, undefined, [["Expires", String(expires)]]);
    const cid = req.headers.get("CSeq");
    const answer = this.next((m) => m.type === "response" && m.headers.get("CSeq") === cid);
    this.send(req);
    const r = await answer;
    return r.type === "response" ? r.status : 0;
  }

  async keepalive(sn = 1): Promise<number> {
    const body = writeManscdp({ root: "Notify", cmdType: "Keepalive", sn, deviceId: this.o.id, fields: [["Status", "OK"]] });
    const req = this.request("MESSAGE", body, "Application/MANSCDP+xml");
    const cid = req.headers.get("CSeq");
    const answer = this.next((m) => m.type === "response" && m.headers.get("CSeq") === cid);
    this.send(req);
    const r = await answer;
    return r.type === "response" ? r.status : 0;
  }

  /** BYE of the media dialog (the device hangs up). */
  bye(): void {
    const inv = this.dialog;
    if (!inv) return;
    const via = this.via();
    const req = createRequest({
      method: "BYE", uri: inv.headers.get("Contact")?.replace(/^<|>$/g, "") ?? inv.uri, via,
      from: { uri: `sip:${this.o.id}@3402000000`, tag: this.tag }, to: { uri: "sip:server" },
      callId: inv.headers.get("Call-ID")!, cseq: this.cseq++,
    });
    req.headers.set("To", inv.headers.get("From")!);
    this.send(req);
    this.stopMedia = true;
    this.media?.end();
  }

  private onSip(m: SipMessage): void {
    this.log.push(m.type === "request" ? m.method : `${m.status} ${m.headers.get("CSeq")}`);
    for (const w of [...this.waiters]) {
      if (w.what(m)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(m);
      }
    }
    if (m.type !== "request") return;
    if (m.method === "INVITE") return this.onInvite(m);
    if (m.method === "BYE") {
      this.byes++;
      this.send(createResponse(m, 200));
      this.stopMedia = true;
      this.media?.end();
      return;
    }
    if (m.method === "ACK") return;
  }

  private onInvite(m: SipRequest): void {
    this.invites++;
    const offer = parseGbSdp(new TextDecoder().decode(m.body));
    this.ssrc = Number(offer.ssrc);
    this.mediaPort = offer.media[0]!.port;
    const answer = writeGbSdp({
      origin: { username: this.o.id, sessionId: "0", sessionVersion: "0", address: "127.0.0.1" }, sessionName: "Play",
      uri: undefined, address: "127.0.0.1", time: { start: "0", stop: "0" },
      media: [{ kind: "video", port: 15060, proto: "TCP/RTP/AVP", formats: [{ payloadType: 96, name: "PS", clockRate: 90000 }],
        direction: "sendonly", setup: "active", connection: "new", attributes: [] }],
      ssrc: offer.ssrc, f: undefined,
    });
    this.dialog = m;
    this.send(createResponse(m, 200, { body: answer, contentType: "Application/SDP", headers: [["Contact", `<sip:${this.o.id}@127.0.0.1:${this.localPort}>`]] }));
    if (!this.o.noMedia) void this.sendMedia(offer.address, this.mediaPort, this.ssrc);
  }

  /** RTP(PS) over RFC 4571 TCP, in real time, looping the clip (public: a session set up without SIP). */
  async sendMedia(host: string, port: number, ssrc: number): Promise<void> {
    if (this.media && !this.media.destroyed) return;
    this.ssrc = ssrc;
    this.mediaPort = port;
    this.stopMedia = false;
    const { groups, psm, duration } = clipGroups(this.o.clip ?? "clip.ts", this.o.audio ?? "aac");
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => resolve(s));
      s.once("error", reject);
    }).catch(() => undefined);
    if (!sock) return;
    this.media = sock;
    sock.on("error", () => undefined);
    let seq = Math.floor(Math.random() * 65536);
    const start = performance.now();
    const t0 = groups[0]?.[0]?.dts ?? 0;
    for (let loop = 0; !this.stopMedia && !sock.destroyed && groups.length > 0; loop++) {
      const shift = loop * duration * 90; // each loop goes on from the last one's timestamps
      for (const g of groups) {
        if (this.stopMedia || sock.destroyed) break;
        const dts = g[0]!.dts + shift;
        const wait = start + (dts - t0) / 90 - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        const ps = muxGb(g.map((u) => ({ ...u, pts: u.pts + shift, dts: u.dts + shift })), { psm, maxPesPayload: 1400 });
        const ts = Math.round(dts) >>> 0;
        for (let off = 0; off < ps.length; off += 1400) {
          const payload = ps.subarray(off, Math.min(ps.length, off + 1400));
          const rtp = buildRtpPacket({ payloadType: 96, sequence: seq, timestamp: ts, ssrc, marker: off + 1400 >= ps.length, payload });
          seq = (seq + 1) & 0xffff;
          const f = frame(rtp);
          this.mediaBytes += f.length;
          sock.write(f);
        }
      }
    }
    sock.end();
  }

  close(): void {
    this.stopMedia = true;
    this.media?.destroy();
    this.tcp?.destroy();
    try {
      this.udp?.close();
    } catch {
      // closed
    }
    this.closed = true;
  }
}
