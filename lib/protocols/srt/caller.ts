/**
 * SRT caller (client side of the caller-listener HSv5 handshake): induction → conclusion with HSREQ, SID and
 * KMREQ, then an SrtConnection over its own node:dgram socket (closed with the connection).
 *
 * ```ts
 * const conn = await srtConnect({ host: "127.0.0.1", port: 10080, streamId: "#!::r=live/s,m=publish",
 *   latency: 120, passphrase: "…", pbkeylen: 16 });
 * conn.send(ts1316); conn.onData(cb); conn.close();
 * ```
 * close() lingers until what was sent is acknowledged and due at the listener (see SrtConnection.close), at most
 * `linger` ms (default: the latency + 1 s; libsrt's live-mode default is 0, which loses the tail).
 * Rejections reject the promise with `SrtRejectError` (`code` = the listener's reason, e.g. 1403, 1010).
 */
import { bindUdp, type UdpRemote as RemoteInfo, type UdpSocket } from "../../runtime/udp.ts";
import { randomInt } from "../../runtime/hash.ts";
import { Log, LogSink } from "../../log/logger.ts";
import { createKm, encodeKm, KM_S_BADSECRET, validPassphrase } from "./crypto.ts";
import { SrtConnection, type SrtTransport, nowUs } from "./connection.ts";
import {
  decodeHandshake,
  decodeHsReq,
  encodeHandshake,
  encodeHsReq,
  encodeSid,
  EXT_HSREQ,
  EXT_HSRSP,
  EXT_KMREQ,
  EXT_KMRSP,
  EXT_SID,
  type Handshake,
  HS_CONCLUSION,
  HS_EXT_CONFIG,
  HS_EXT_HSREQ,
  HS_EXT_KMREQ,
  HS_INDUCTION,
  type HsExtension,
  isRejection,
  peerIpBytes,
  REJ_BADSECRET,
  REJ_ROGUE,
  REJ_TIMEOUT,
  REJ_UNSECURE,
  SRT_MAGIC,
  SRT_OPT_CRYPT,
  SRT_OPT_NAKREPORT,
  SRT_OPT_REXMITFLG,
  SRT_OPT_TLPKTDROP,
  SRT_OPT_TSBPDRCV,
  SRT_OPT_TSBPDSND,
  SRT_VERSION,
  UDT_DGRAM,
} from "./handshake.ts";
import { CTRL_HANDSHAKE, HEADER_SIZE, readU32, writeControlHeader } from "./packet.ts";

export class SrtRejectError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "SrtRejectError";
  }
}

export interface SrtCallerOptions {
  host: string;
  port: number;
  streamId?: string;
  latency?: number;
  passphrase?: string;
  pbkeylen?: number;
  payloadsize?: number;
  peerIdleTimeout?: number;
  connectTimeout?: number;
  tlpktdrop?: boolean;
  maxbw?: number;
  /** How long close() may wait for the send buffer to drain, ms (default: the send latency + 1000; 0: at once). */
  linger?: number;
  log?: Log;
}

class SocketTransport implements SrtTransport {
  constructor(private sock: UdpSocket) {}
  send(buf: Uint8Array, len: number, port: number, address: string): void {
    try {
      this.sock.send(len === buf.byteLength ? buf : buf.subarray(0, len), port, address);
    } catch {
      // closed: lost as on the network
    }
  }
}

export async function srtConnect(o: SrtCallerOptions): Promise<SrtConnection> {
  const log = o.log ?? new Log(new LogSink({ level: "warn" }), "srtcall0");
  const latency = o.latency ?? 120;
  const pbkeylen = o.pbkeylen || 16;
  if (o.passphrase && !validPassphrase(o.passphrase)) throw new Error("srt: passphrase must be 10 to 79 characters");
  let onMessage: (msg: Uint8Array, r: RemoteInfo) => void = () => {};
  const sock = await bindUdp({
    host: o.host.includes(":") ? "::" : "0.0.0.0",
    port: 0,
    onMessage: (msg, r) => onMessage(msg, r),
  });
  const transport = new SocketTransport(sock);
  const socketId = randomInt(1, 0x7fffffff);
  const isn = randomInt(0, 0x7fffffff);
  const startUs = nowUs();
  const km = o.passphrase ? createKm(o.passphrase, pbkeylen) : null;

  const sendHs = (hs: Handshake): void => {
    const cif = encodeHandshake(hs);
    const pkt = new Uint8Array(HEADER_SIZE + cif.length);
    writeControlHeader(pkt, CTRL_HANDSHAKE, 0, 0, (nowUs() - startUs) >>> 0, 0);
    pkt.set(cif, HEADER_SIZE);
    transport.send(pkt, pkt.length, o.port, o.host);
  };
  const base: Omit<Handshake, "type" | "version" | "encryption" | "extension" | "cookie" | "extensions"> = {
    isn, mtu: 1500, flowWindow: 8192, socketId, peerIp: peerIpBytes(o.host),
  };

  let phase: "induction" | "conclusion" = "induction";
  let conclusion: Handshake | null = null;
  let conn: SrtConnection | null = null;

  return await new Promise<SrtConnection>((resolve, reject) => {
    let done = false;
    const fail = (e: Error): void => {
      if (done) return;
      done = true;
      clearInterval(retry);
      clearTimeout(deadline);
      void sock.close();
      reject(e);
    };
    const induction = (): void =>
      sendHs({ ...base, version: 4, encryption: 0, extension: UDT_DGRAM, type: HS_INDUCTION, cookie: 0, extensions: [] });
    const retry = setInterval(() => {
      if (phase === "induction") induction();
      else if (conclusion) sendHs(conclusion);
    }, 250);
    const deadline = setTimeout(
      () => fail(new SrtRejectError(REJ_TIMEOUT, `srt: connect to ${o.host}:${o.port} timed out`)),
      o.connectTimeout ?? 3000,
    );

    onMessage = (msg: Uint8Array, r: RemoteInfo) => {
      if (conn) {
        conn.handlePacket(msg, msg.length, nowUs());
        return;
      }
      if (msg.length < HEADER_SIZE + 48 || (readU32(msg, 0) >>> 16) !== 0x8000) return;
      let hs: Handshake;
      try {
        hs = decodeHandshake(msg.subarray(HEADER_SIZE));
      } catch {
        return;
      }
      if (phase === "induction" && hs.type === HS_INDUCTION) {
        if (hs.version !== 5 || hs.extension !== SRT_MAGIC) {
          fail(new SrtRejectError(REJ_ROGUE, "srt: the listener is not an SRT v5 listener"));
          return;
        }
        const exts: HsExtension[] = [{
          type: EXT_HSREQ,
          data: encodeHsReq({
            version: SRT_VERSION,
            flags: SRT_OPT_TSBPDSND | SRT_OPT_TSBPDRCV | SRT_OPT_CRYPT | SRT_OPT_NAKREPORT | SRT_OPT_REXMITFLG |
              ((o.tlpktdrop ?? true) ? SRT_OPT_TLPKTDROP : 0),
            recvDelayMs: latency,
            sendDelayMs: latency,
          }),
        }];
        let flags = HS_EXT_HSREQ;
        if (km) {
          exts.push({ type: EXT_KMREQ, data: encodeKm(km.km) });
          flags |= HS_EXT_KMREQ;
        }
        if (o.streamId) {
          exts.push({ type: EXT_SID, data: encodeSid(o.streamId) });
          flags |= HS_EXT_CONFIG;
        }
        conclusion = {
          ...base, version: 5, encryption: km ? pbkeylen / 8 : 0, extension: flags, type: HS_CONCLUSION,
          cookie: hs.cookie, extensions: exts,
        };
        phase = "conclusion";
        sendHs(conclusion);
        return;
      }
      if (phase !== "conclusion") return;
      if (isRejection(hs.type)) {
        fail(new SrtRejectError(hs.type, `srt: connection rejected by ${o.host}:${o.port}: ${hs.type}`));
        return;
      }
      if (hs.type !== HS_CONCLUSION) return;
      let hsrsp = null;
      let kmOk = km === null;
      for (const e of hs.extensions) {
        if (e.type === EXT_HSRSP) hsrsp = decodeHsReq(e.data);
        else if (e.type === EXT_KMRSP) {
          if (e.data.length === 4) {
            const state = readU32(e.data, 0);
            fail(new SrtRejectError(state === KM_S_BADSECRET ? REJ_BADSECRET : REJ_UNSECURE, `srt: KM state ${state}`));
            return;
          }
          kmOk = true;
        }
      }
      if (!hsrsp) {
        fail(new SrtRejectError(REJ_ROGUE, "srt: CONCLUSION response without HSRSP"));
        return;
      }
      if (!kmOk) {
        fail(new SrtRejectError(REJ_UNSECURE, "srt: the listener did not answer our KMREQ"));
        return;
      }
      done = true;
      clearInterval(retry);
      clearTimeout(deadline);
      const now = nowUs();
      const c = new SrtConnection({
        socketId, peerSocketId: hs.socketId, remoteAddress: r.address, remotePort: r.port, streamId: o.streamId ?? "",
        sndIsn: isn, rcvIsn: isn, rcvLatencyMs: hsrsp.sendDelayMs || latency, sndLatencyMs: hsrsp.recvDelayMs || latency,
        tsbpd: (hsrsp.flags & SRT_OPT_TSBPDSND) !== 0, tlpktdrop: (hsrsp.flags & SRT_OPT_TLPKTDROP) !== 0,
        payloadSize: o.payloadsize ?? 1316, rcvBufPackets: 8192, sndBufPackets: 8192,
        peerIdleTimeoutMs: o.peerIdleTimeout ?? 5000, maxBw: o.maxbw ?? 0,
        lingerMs: o.linger ?? (hsrsp.recvDelayMs || latency) + 1000,
        rcvEven: km ? km.cipher : null, rcvOdd: null, sndCipher: km ? km.cipher : null,
        tsbpdBaseUs: now - readU32(msg, 8), startUs, peerRexmitFlag: (hsrsp.flags & SRT_OPT_REXMITFLG) !== 0,
        transport, log,
      });
      conn = c;
      const ticker = setInterval(() => c.tick(nowUs()), 10);
      c.onClose(() => {
        clearInterval(ticker);
        // Let the SHUTDOWN leave first.
        setTimeout(() => {
          void sock.close();
        }, 20);
      });
      resolve(c);
    };
    induction();
  });
}
