/**
 * One established SRT connection in live mode (draft-sharabayko-srt §4.5–4.9), both directions:
 *
 * Receiver: a ring buffer indexed by sequence number (31-bit wrap); immediate NAK of new gaps plus periodic NAK
 * reports every max(20 ms, (RTT + 4·RTTVar)/2); a full ACK every 10 ms (when there is something new to
 * acknowledge) and a light ACK every 64 packets; RTT from ACK→ACKACK; TSBPD delivery at
 * base + timestamp + latency (+ a bounded drift correction); too-late packet drop (skipped holes are
 * acknowledged as if received); DROPREQ honoured.
 *
 * Sender: a ring of packet slots bounded in packets and in age (max(1 s, 1.25·latency)); coarse token-bucket
 * pacing (maxbw, or automatic: 2 × the measured input rate with a 10 Mbps floor); retransmission on NAK with
 * the R flag; DROPREQ for sequence numbers no longer buffered; ACKACK for every full ACK; keepalives after 1 s
 * of silence; peer idle timeout; SHUTDOWN both ways. close() lingers (like libsrt's SRTO_LINGER, bounded by
 * `lingerMs`): it stops taking data, sends what is queued, waits for the last ACK and for the receiver's TSBPD
 * time of the last packet, and only then sends SHUTDOWN, so the tail of a stream is not lost. While the sender
 * is backlogged, a late pacing wake-up may send what the rate allowed over the time it slept (up to 50 ms of
 * it), so a busy event loop does not throttle the sender below its rate until its queue ages into drops.
 *
 * The packet path allocates nothing per packet in steady state: slots and control buffers are reused, header
 * fields are decoded into a reused object, the transport copies what it sends.
 *
 * Time is `performance.now()` in microseconds (or the `clock` given, e.g. a test's virtual time). The owner
 * (SrtServer or SrtCaller) feeds datagrams to `handlePacket` and calls `tick` every ~10 ms, passing that time.
 */
import type { Log } from "../../log/logger.ts";
import { acceptKm, parseKm, type SrtCipher } from "./crypto.ts";
import {
  type AckInfo,
  CTRL_ACK,
  CTRL_ACKACK,
  CTRL_CONGESTION,
  CTRL_DROPREQ,
  CTRL_HANDSHAKE,
  CTRL_KEEPALIVE,
  CTRL_NAK,
  CTRL_PEERERROR,
  CTRL_SHUTDOWN,
  CTRL_USER,
  decodeAck,
  decodeLossList,
  encodeDropReq,
  encodeFullAck,
  encodeLightAck,
  HEADER_SIZE,
  KK_EVEN,
  KK_NONE,
  KK_ODD,
  MAX_PACKET_SIZE,
  newAckInfo,
  newHeader,
  PP_SOLO,
  putLoss,
  readHeader,
  readU32,
  setRetransmitFlag,
  type SrtHeader,
  SrtPacketError,
  writeControlHeader,
  writeDataHeader,
} from "./packet.ts";
import { msgNext, seqAdd, seqOff } from "./seq.ts";

export function nowUs(): number {
  return performance.now() * 1000;
}

/**
 * A shared pacer for many connections (SrtServer's): `send` only queues and wakes it; the pacer calls `pump`
 * round-robin with a bounded number of datagrams per event-loop turn, so a fan-out to hundreds of players is
 * spread over time (interleaved, each within its own token bucket) instead of one synchronous burst.
 */
export interface SrtSendScheduler {
  wake(conn: SrtConnection): void;
}

/** Where a connection's datagrams go. `send` must not keep `buf` after returning (copy it). */
export interface SrtTransport {
  send(buf: Uint8Array, len: number, port: number, address: string): void;
}

export interface SrtConnectionParams {
  socketId: number;
  peerSocketId: number;
  remoteAddress: string;
  remotePort: number;
  streamId: string;
  /** First sequence number we send. */
  sndIsn: number;
  /** First sequence number we expect. */
  rcvIsn: number;
  rcvLatencyMs: number;
  sndLatencyMs: number;
  tsbpd: boolean;
  tlpktdrop: boolean;
  /** Largest payload of one data packet (1316 = 7 TS packets). */
  payloadSize: number;
  /** Receive buffer, packets (rounded up to a power of two). */
  rcvBufPackets: number;
  /** Send buffer, packets (rounded up to a power of two). */
  sndBufPackets: number;
  peerIdleTimeoutMs: number;
  /** Pacing rate in bytes/s; 0 = automatic. */
  maxBw: number;
  /** Decryption of what we receive (even/odd keys) and encryption of what we send. */
  rcvEven: SrtCipher | null;
  rcvOdd: SrtCipher | null;
  sndCipher: SrtCipher | null;
  /** Local µs time that corresponds to peer timestamp 0. */
  tsbpdBaseUs: number;
  /** Local µs time of our timestamp 0. */
  startUs: number;
  /** Passphrase, to accept the peer's key refreshes (KMREQ in user-defined control packets). */
  passphrase?: string;
  /** Whether the peer understands the R flag. */
  peerRexmitFlag: boolean;
  transport: SrtTransport;
  /** Optional shared pacer; without one the connection sends at once and paces itself with a timer. */
  scheduler?: SrtSendScheduler;
  /**
   * How long close() may wait for the send buffer to drain (sent, acknowledged, due at the receiver) before it
   * sends SHUTDOWN anyway, in ms; 0 (the default) closes at once.
   */
  lingerMs?: number;
  log: Log;
  /** Current time in µs for what the connection stamps by itself (send, close, stats); default nowUs. */
  clock?: () => number;
}

export interface SrtStats {
  /** Payload bytes received/sent (no headers, retransmissions not double counted on receive). */
  bytesIn: number;
  bytesOut: number;
  pktIn: number;
  pktOut: number;
  /** Packets we retransmitted. */
  pktRetrans: number;
  /** Retransmitted packets we received. */
  pktRcvRetrans: number;
  /** Packets detected missing on receive (gaps). */
  pktLoss: number;
  /** Packets the peer reported lost (NAKed). */
  pktSndLoss: number;
  /** Packets skipped at delivery (too late / drop request). */
  pktRcvDrop: number;
  /** Packets dropped by the sender before being acknowledged (too old / send buffer full). */
  pktSndDrop: number;
  pktRcvDup: number;
  pktRcvUndecrypt: number;
  rttMs: number;
  rttVarMs: number;
  rcvLatencyMs: number;
  sndLatencyMs: number;
  /** Packets waiting in the receive buffer / unacknowledged or unsent in the send buffer. */
  rcvBufPackets: number;
  sndBufPackets: number;
  /** Receive and send rates over the last second. */
  recvRateMbps: number;
  sendRateMbps: number;
  nakSent: number;
  nakRecv: number;
  ackSent: number;
  uptimeMs: number;
}

export type DataCallback = (payload: Uint8Array) => void;
export type CloseCallback = (reason: string) => void;

const ACK_INTERVAL_US = 10_000;
const LIGHT_ACK_PACKETS = 64;
const KEEPALIVE_US = 1_000_000;
const MIN_NAK_INTERVAL_US = 20_000;
const ACK_HISTORY = 64;
const MAX_LOSS_PAIRS = 512;
const MAX_REXMIT_PER_NAK = 2048;
/** Slots of a ring when the connection starts (it doubles, up to rcvBufPackets / sndBufPackets, as needed). */
const RING_START = 64;
/**
 * Spare packet buffers kept per connection per direction (memory follows what is in flight, not ring size). Each is
 * ~1.5 KB: at 256, the burst a joining player is sent (sequence headers + GOP, ~100 packets at 1 Mbps) stayed in the
 * pool for the life of the connection, ~500 KB per SRT player (bench/memory.ts); at 32 a 1 Mbps player costs ~50 KB
 * and a burst past 32 packets in flight allocates (the buffers the burst freed are collected).
 */
const POOL_MAX = 32;
/**
 * Longest sleep of a backlogged sender whose owed tokens are honoured on wake-up: enough to ride out timers
 * late by tens of ms, short enough that the catch-up burst does not overflow a receiver's UDP buffer.
 */
const MAX_CATCH_UP_US = 50_000;
/** After the last packet's TSBPD time at the receiver, before SHUTDOWN: its delivery and scheduling slack. */
const LINGER_MARGIN_US = 20_000;

function pow2(n: number): number {
  let c = 16;
  while (c < n) c *= 2;
  return c;
}

export class SrtConnection {
  readonly socketId: number;
  readonly peerSocketId: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly streamId: string;
  readonly encrypted: boolean;
  /** The CONCLUSION response we sent (listener side), resent if the caller repeats its CONCLUSION. */
  handshakeResponse: Uint8Array | null = null;

  private p: SrtConnectionParams;
  private readonly clock: () => number;
  private log: Log;
  private transport: SrtTransport;
  private closedReason: string | null = null;
  /** close() was called and the connection lingers until its send buffer drains (or the deadline). */
  private lingering: { reason: string; deadlineUs: number } | null = null;
  /** The last pump left packets waiting for tokens: the time since was owed to them. */
  private backlogged = false;
  private dataCbs: DataCallback[] = [];
  private closeCbs: CloseCallback[] = [];
  private hdr: SrtHeader = newHeader();
  private ack: AckInfo = newAckInfo();
  private lossPairs = new Uint32Array(MAX_LOSS_PAIRS * 2);
  private ctl = new Uint8Array(MAX_PACKET_SIZE);
  private createdUs: number;
  private lastRecvUs: number;
  private lastSendUs: number;

  // ---- receiver ----
  /** The most packets the receive ring may hold (rcvBufPackets); the ring starts small and doubles up to it. */
  private rcvCap: number;
  /** Slots allocated now (a power of two <= rcvCap); rcvMask = rcvSize - 1. */
  private rcvSize: number;
  private rcvMask: number;
  private rcvData: Array<Uint8Array | undefined>;
  private rcvPool: Uint8Array[] = [];
  /** >= 0: payload length; -1: missing; -2: dropped on request. */
  private rcvLen: Int32Array;
  private rcvTs: Float64Array;
  private rcvHead = 0;
  private rcvBase: number;
  private rcvNext: number;
  private ackSeq: number;
  private lossCount = 0;
  private lastAckSeqSent = -1;
  private lastFullAckUs = 0;
  private ackNo = 0;
  private ackHistNo = new Int32Array(ACK_HISTORY);
  private ackHistUs = new Float64Array(ACK_HISTORY);
  private pktsSinceAck = 0;
  private lastNakUs = 0;
  private rttUs = 100_000;
  private rttVarUs = 50_000;
  private haveRtt = false;
  private tsRef32 = -1;
  private tsRefU = 0;
  private tsbpdBaseUs: number;
  private rcvLatencyUs: number;
  // drift tracking: minimum (arrival - base - ts) per window
  private driftWinMin = Infinity;
  private driftWinCount = 0;
  private driftRef = NaN;
  private driftTotalUs = 0;
  // rate windows
  private winStartUs: number;
  private winPktsIn = 0;
  private winBytesIn = 0;
  private winBytesOut = 0;
  private rcvPktRate = 0;
  private rcvByteRate = 0;
  private sndByteRate = 0;

  // ---- sender ----
  /** As rcvCap/rcvSize: the most packets the send ring may hold, and the slots allocated now. */
  private sndCap: number;
  private sndSize: number;
  private sndMask: number;
  private sndPkt: Array<Uint8Array | undefined>;
  private sndPool: Uint8Array[] = [];
  private sndLen: Int32Array;
  private sndOrigin: Float64Array;
  private sndLastTx: Float64Array;
  /** Time of the last RE-transmission (0: never): repeated NAKs within half an RTT do not resend again. */
  private sndRexmitTx: Float64Array;
  private sndHead = 0;
  private sndBase: number;
  private sndNext: number;
  private sndTxNext: number;
  private msgNo = 0;
  private tokens = 0;
  private lastRefillUs: number;
  private inputRate = 0;
  private winBytesSubmitted = 0;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly flushBound: () => void;
  private peerRttUs = 0;
  private lastTickUs: number;
  /** The previous tick was late and skipped the ACK-stall check. */
  private skippedLateTick = false;
  /** Last first transmission of a data packet. */
  private lastDataTxUs = 0;
  /** Set by the scheduler while this connection is in its queue. */
  pacerQueued = false;
  private lastAckProgressUs: number;
  private peerRttVarUs = 0;
  private sndLatencyUs: number;
  private sndDropUs: number;

  private st = {
    bytesIn: 0, bytesOut: 0, pktIn: 0, pktOut: 0, pktRetrans: 0, pktRcvRetrans: 0, pktLoss: 0, pktSndLoss: 0,
    pktRcvDrop: 0, pktSndDrop: 0, pktRcvDup: 0, pktRcvUndecrypt: 0, nakSent: 0, nakRecv: 0, ackSent: 0,
  };

  constructor(params: SrtConnectionParams) {
    this.p = params;
    this.clock = params.clock ?? nowUs;
    const t = this.clock();
    this.createdUs = this.lastRecvUs = this.lastSendUs = this.winStartUs = t;
    this.lastRefillUs = this.lastTickUs = this.lastAckProgressUs = t;
    this.log = params.log;
    this.transport = params.transport;
    this.socketId = params.socketId;
    this.peerSocketId = params.peerSocketId;
    this.remoteAddress = params.remoteAddress;
    this.remotePort = params.remotePort;
    this.streamId = params.streamId;
    this.encrypted = params.sndCipher !== null || params.rcvEven !== null || params.rcvOdd !== null;
    // The rings follow what is in flight: a player's receive ring and a publisher's send ring stay at their first
    // size (8192-slot rings cost ~450 KB per connection; a 1 Mbps stream keeps ~100 packets in flight).
    this.rcvCap = pow2(params.rcvBufPackets);
    this.rcvSize = Math.min(this.rcvCap, RING_START);
    this.rcvMask = this.rcvSize - 1;
    this.rcvData = new Array<Uint8Array | undefined>(this.rcvSize);
    this.rcvLen = new Int32Array(this.rcvSize).fill(-1);
    this.rcvTs = new Float64Array(this.rcvSize);
    this.rcvBase = this.rcvNext = this.ackSeq = params.rcvIsn;
    this.tsbpdBaseUs = params.tsbpdBaseUs;
    this.rcvLatencyUs = params.rcvLatencyMs * 1000;
    this.sndCap = pow2(params.sndBufPackets);
    this.sndSize = Math.min(this.sndCap, RING_START);
    this.sndMask = this.sndSize - 1;
    this.sndPkt = new Array<Uint8Array | undefined>(this.sndSize);
    this.sndLen = new Int32Array(this.sndSize);
    this.sndOrigin = new Float64Array(this.sndSize);
    this.sndLastTx = new Float64Array(this.sndSize);
    this.sndRexmitTx = new Float64Array(this.sndSize);
    this.sndBase = this.sndNext = this.sndTxNext = params.sndIsn;
    this.sndLatencyUs = params.sndLatencyMs * 1000;
    this.sndDropUs = Math.max(1_000_000, 1.25 * this.sndLatencyUs + 20_000);
    this.flushBound = () => {
      this.flushTimer = null;
      this.flush(this.clock());
    };
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** close() was called; the connection sends its tail and closes when drained or at its linger deadline. */
  get closing(): boolean {
    return this.lingering !== null && this.closedReason === null;
  }

  /** Data packets sent so far (first transmissions). */
  get pktSent(): number {
    return this.st.pktOut;
  }

  /** In-order payloads (TSBPD-delivered). The view is only valid during the callback: copy it to keep it. */
  onData(cb: DataCallback): void {
    this.dataCbs.push(cb);
  }

  onClose(cb: CloseCallback): void {
    if (this.closedReason !== null) cb(this.closedReason);
    else this.closeCbs.push(cb);
  }

  // ================================================================ input

  /** Handles one datagram addressed to this connection. Malformed packets are counted and ignored. */
  handlePacket(buf: Uint8Array, len: number, now: number): void {
    if (this.closedReason !== null) return;
    const h = this.hdr;
    try {
      readHeader(buf, len, h);
      this.lastRecvUs = now;
      if (!h.control) this.onDataPacket(buf, len, h, now);
      else this.onControl(buf, len, h, now);
    } catch (e) {
      if (e instanceof SrtPacketError) this.log.verbose(`srt: bad packet from ${this.remoteAddress}:${this.remotePort}: ${e.message}`);
      else throw e;
    }
  }

  private onDataPacket(buf: Uint8Array, len: number, h: SrtHeader, now: number): void {
    const seq = h.seq;
    const plen = len - HEADER_SIZE;
    if (plen > MAX_PACKET_SIZE - HEADER_SIZE) throw new SrtPacketError(`data payload too large: ${plen}`);
    const off = seqOff(this.rcvBase, seq);
    if (off < 0) {
      this.st.pktRcvDup++;
      return;
    }
    if (off >= this.rcvCap) {
      this.st.pktRcvDrop++;
      return;
    }
    while (off >= this.rcvSize) this.growRcv();
    const tsU = this.unwrapTs(h.timestamp);
    const offNext = seqOff(this.rcvNext, seq);
    const idx = (this.rcvHead + off) & this.rcvMask;
    if (offNext >= 0) {
      if (offNext > 0) {
        this.lossCount += offNext;
        this.st.pktLoss += offNext;
        this.sendNakRange(this.rcvNext, seqAdd(seq, -1), now);
      }
      this.rcvNext = seqAdd(seq, 1);
    } else {
      if (this.rcvLen[idx] !== -1) {
        this.st.pktRcvDup++;
        return;
      }
      this.lossCount--;
    }
    if (h.retransmitted) this.st.pktRcvRetrans++;
    let slot = this.rcvData[idx];
    if (slot === undefined) {
      slot = this.rcvPool.pop() ?? new Uint8Array(MAX_PACKET_SIZE);
      this.rcvData[idx] = slot;
    }
    slot.set(buf.subarray(HEADER_SIZE, len), 0);
    if (h.kk !== KK_NONE) {
      const c = h.kk === KK_EVEN ? this.p.rcvEven : h.kk === KK_ODD ? this.p.rcvOdd : null;
      if (c === null) {
        this.st.pktRcvUndecrypt++;
        this.rcvLen[idx] = -2; // cannot decrypt: treat as dropped
        this.advanceAck();
        return;
      }
      c.apply(seq, slot, 0, plen);
    }
    this.rcvLen[idx] = plen;
    this.rcvTs[idx] = tsU;
    this.st.pktIn++;
    this.st.bytesIn += plen;
    this.winPktsIn++;
    this.winBytesIn += plen;
    this.trackDrift(now, tsU);
    if (seq === this.ackSeq) this.advanceAck();
    if (++this.pktsSinceAck >= LIGHT_ACK_PACKETS) {
      this.pktsSinceAck = 0;
      const n = encodeLightAck(this.ctl, this.ts(now), this.peerSocketId, this.ackSeq);
      this.out(this.ctl, n, now);
    }
    if (!this.p.tsbpd || this.rcvLatencyUs === 0) this.deliver(now);
  }

  /** Unwraps a 32-bit µs timestamp against the highest one seen so far. */
  private unwrapTs(ts: number): number {
    if (this.tsRef32 < 0) {
      this.tsRef32 = ts;
      this.tsRefU = ts;
      return ts;
    }
    const d = (ts - this.tsRef32) | 0;
    const u = this.tsRefU + d;
    if (d > 0) {
      this.tsRef32 = ts;
      this.tsRefU = u;
    }
    return u;
  }

  /** Drift: the minimum of (arrival − base − ts) per 1000 packets; move the base when it wanders > 5 ms. */
  private trackDrift(now: number, tsU: number): void {
    const lag = now - this.tsbpdBaseUs - tsU;
    if (lag < this.driftWinMin) this.driftWinMin = lag;
    if (++this.driftWinCount < 1000) return;
    const m = this.driftWinMin;
    this.driftWinMin = Infinity;
    this.driftWinCount = 0;
    if (Number.isNaN(this.driftRef)) {
      this.driftRef = m;
      return;
    }
    const d = m - this.driftRef;
    const cap = Math.max(this.rcvLatencyUs / 2, 5000);
    if (Math.abs(d) > 5000 && Math.abs(this.driftTotalUs + d) <= cap) {
      this.tsbpdBaseUs += d;
      this.driftTotalUs += d;
      this.log.verbose(`srt: drift correction ${(d / 1000).toFixed(1)} ms (total ${(this.driftTotalUs / 1000).toFixed(1)} ms)`);
    }
  }

  private advanceAck(): void {
    if (seqOff(this.ackSeq, this.rcvBase) > 0) this.ackSeq = this.rcvBase;
    while (this.ackSeq !== this.rcvNext) {
      const idx = (this.rcvHead + seqOff(this.rcvBase, this.ackSeq)) & this.rcvMask;
      if (this.rcvLen[idx] === -1) break;
      this.ackSeq = seqAdd(this.ackSeq, 1);
    }
  }

  private onControl(buf: Uint8Array, len: number, h: SrtHeader, now: number): void {
    switch (h.ctrlType) {
      case CTRL_ACK: {
        decodeAck(buf, len, h.info, this.ack);
        this.onAck(this.ack, now);
        return;
      }
      case CTRL_ACKACK:
        this.onAckAck(h.info, now);
        return;
      case CTRL_NAK: {
        const n = decodeLossList(buf, len, this.lossPairs);
        this.st.nakRecv++;
        this.onNak(n, now);
        return;
      }
      case CTRL_KEEPALIVE:
        return;
      case CTRL_SHUTDOWN:
        this.drainReceived();
        this.finish("peer shutdown", false);
        return;
      case CTRL_DROPREQ:
        if (len < HEADER_SIZE + 8) throw new SrtPacketError("DROPREQ too short");
        this.onDropReq(readU32(buf, 16) & 0x7fffffff, readU32(buf, 20) & 0x7fffffff, now);
        return;
      case CTRL_HANDSHAKE:
        // A repeated CONCLUSION addressed to our socket id: answer again.
        if (this.handshakeResponse) this.transport.send(this.handshakeResponse, this.handshakeResponse.length, this.remotePort, this.remoteAddress);
        return;
      case CTRL_USER:
        if (h.subtype === 3) this.onKeyRefresh(buf, len, now);
        return;
      case CTRL_CONGESTION:
      case CTRL_PEERERROR:
        return;
      default:
        throw new SrtPacketError(`unknown control type ${h.ctrlType}`);
    }
  }

  /** KM refresh from the peer (user-defined control packet, subtype KMREQ): install the keys, echo as KMRSP. */
  private onKeyRefresh(buf: Uint8Array, len: number, now: number): void {
    if (!this.p.passphrase) return;
    const km = parseKm(buf.subarray(HEADER_SIZE, len));
    const r = acceptKm(km, this.p.passphrase);
    if (!r.ok) {
      this.log.warn(`srt: key refresh from ${this.remoteAddress}:${this.remotePort} failed: ${r.reason}`);
      return;
    }
    if (r.even) this.p.rcvEven = r.even;
    if (r.odd) this.p.rcvOdd = r.odd;
    const n = len - HEADER_SIZE;
    if (HEADER_SIZE + n > this.ctl.length) return;
    writeControlHeader(this.ctl, CTRL_USER, 4, 0, this.ts(now), this.peerSocketId);
    this.ctl.set(buf.subarray(HEADER_SIZE, len), HEADER_SIZE);
    this.out(this.ctl, len, now);
  }

  private onAckAck(ackNo: number, now: number): void {
    for (let i = 0; i < ACK_HISTORY; i++) {
      if (this.ackHistNo[i] === (ackNo | 0) && this.ackHistUs[i]! > 0) {
        const sample = now - this.ackHistUs[i]!;
        this.ackHistUs[i] = 0;
        if (!this.haveRtt) {
          this.rttUs = sample;
          this.rttVarUs = sample / 2;
          this.haveRtt = true;
        } else {
          this.rttVarUs = (3 * this.rttVarUs + Math.abs(this.rttUs - sample)) / 4;
          this.rttUs = (7 * this.rttUs + sample) / 8;
        }
        return;
      }
    }
  }

  private onDropReq(first: number, last: number, now: number): void {
    const span = seqOff(first, last);
    if (span < 0 || span > this.rcvCap) return;
    for (let i = 0; i <= span; i++) {
      const seq = seqAdd(first, i);
      const off = seqOff(this.rcvBase, seq);
      if (off < 0) continue;
      if (seqOff(this.rcvNext, seq) >= 0) break;
      const idx = (this.rcvHead + off) & this.rcvMask;
      if (this.rcvLen[idx] === -1) {
        this.rcvLen[idx] = -2;
        this.lossCount--;
      }
    }
    this.advanceAck();
    this.deliver(now);
  }

  // ================================================================ sender side input

  private onAck(a: AckInfo, now: number): void {
    const ackSeq = a.ackSeq;
    if (a.kind === "full") {
      // ACKACK first: it measures the peer's RTT.
      writeControlHeader(this.ctl, CTRL_ACKACK, 0, a.ackNo, this.ts(now), this.peerSocketId);
      this.out(this.ctl, HEADER_SIZE, now);
      if (a.rttUs > 0) {
        this.peerRttUs = a.rttUs;
        this.peerRttVarUs = a.rttVarUs;
      }
    } else if (a.kind === "small" && a.rttUs > 0) {
      this.peerRttUs = a.rttUs;
      this.peerRttVarUs = a.rttVarUs;
    }
    const adv = seqOff(this.sndBase, ackSeq);
    if (adv <= 0) return;
    if (seqOff(ackSeq, this.sndTxNext) < 0) return; // acknowledges what we never sent: ignore
    for (let i = 0; i < adv; i++) {
      this.releaseSnd(this.sndHead);
      this.sndHead = (this.sndHead + 1) & this.sndMask;
    }
    this.sndBase = ackSeq;
    this.lastAckProgressUs = now;
  }

  private onNak(n: number, now: number): void {
    const pairs = this.lossPairs;
    let budget = MAX_REXMIT_PER_NAK;
    const minGap = Math.min(this.senderRttUs() / 2, 50_000);
    for (let k = 0; k < n && budget > 0; k++) {
      let from = pairs[k * 2]!;
      const to = pairs[k * 2 + 1]!;
      const span = seqOff(from, to);
      if (span < 0) continue;
      this.st.pktSndLoss += span + 1;
      // Part of the range we no longer have: tell the receiver not to wait for it.
      if (seqOff(from, this.sndBase) > 0) {
        const lastGone = seqOff(to, this.sndBase) > 0 ? to : seqAdd(this.sndBase, -1);
        const m = encodeDropReq(this.ctl, 0, this.ts(now), this.peerSocketId, from, lastGone);
        this.out(this.ctl, m, now);
        if (lastGone === to) continue;
        from = this.sndBase;
      }
      const count = Math.min(seqOff(from, to) + 1, seqOff(from, this.sndTxNext));
      for (let i = 0; i < count && budget > 0; i++, budget--) {
        const seq = seqAdd(from, i);
        const idx = (this.sndHead + seqOff(this.sndBase, seq)) & this.sndMask;
        const pkt = this.sndPkt[idx];
        const plen = this.sndLen[idx]!;
        if (pkt === undefined || plen <= 0) continue;
        if (now - this.sndRexmitTx[idx]! < minGap) continue;
        if (this.p.peerRexmitFlag) setRetransmitFlag(pkt, true);
        this.sndLastTx[idx] = now;
        this.sndRexmitTx[idx] = now;
        this.out(pkt, plen, now);
        this.st.pktRetrans++;
      }
    }
  }

  private resendUnacked(now: number, minGap: number): void {
    const n = Math.min(seqOff(this.sndBase, this.sndTxNext), 32);
    for (let i = 0; i < n; i++) {
      const idx = (this.sndHead + i) & this.sndMask;
      const pkt = this.sndPkt[idx];
      const len = this.sndLen[idx]!;
      if (pkt === undefined || len <= 0 || now - this.sndLastTx[idx]! < minGap) continue;
      if (this.p.peerRexmitFlag) setRetransmitFlag(pkt, true);
      this.sndLastTx[idx] = now;
      this.sndRexmitTx[idx] = now;
      this.out(pkt, len, now);
      this.st.pktRetrans++;
    }
  }

  private senderRttUs(): number {
    return this.peerRttUs > 0 ? this.peerRttUs : this.rttUs;
  }

  // ================================================================ output

  private ts(now: number): number {
    return (now - this.p.startUs) >>> 0;
  }

  private out(buf: Uint8Array, len: number, now: number): void {
    this.lastSendUs = now;
    this.transport.send(buf, len, this.remotePort, this.remoteAddress);
  }

  private sendNakRange(from: number, to: number, now: number): void {
    writeControlHeader(this.ctl, CTRL_NAK, 0, 0, this.ts(now), this.peerSocketId);
    const n = putLoss(this.ctl, HEADER_SIZE, from, to);
    this.st.nakSent++;
    this.out(this.ctl, n, now);
  }

  /** Periodic NAK: every hole between the delivery point and the highest received packet. */
  private sendPeriodicNak(now: number): void {
    writeControlHeader(this.ctl, CTRL_NAK, 0, 0, this.ts(now), this.peerSocketId);
    let o = HEADER_SIZE;
    const limit = MAX_PACKET_SIZE - 8;
    let runStart = -1;
    let prev = -1;
    const total = seqOff(this.ackSeq, this.rcvNext);
    const base0 = seqOff(this.rcvBase, this.ackSeq);
    for (let i = 0; i < total && o <= limit; i++) {
      const idx = (this.rcvHead + base0 + i) & this.rcvMask;
      const seq = seqAdd(this.ackSeq, i);
      if (this.rcvLen[idx] === -1) {
        if (runStart < 0) runStart = seq;
        prev = seq;
      } else if (runStart >= 0) {
        o = putLoss(this.ctl, o, runStart, prev);
        runStart = -1;
      }
    }
    if (runStart >= 0 && o <= limit) o = putLoss(this.ctl, o, runStart, prev);
    if (o > HEADER_SIZE) {
      this.st.nakSent++;
      this.out(this.ctl, o, now);
    }
  }

  private sendFullAck(now: number): void {
    this.ackNo = (this.ackNo + 1) | 0;
    if (this.ackNo <= 0) this.ackNo = 1;
    const slot = this.ackNo % ACK_HISTORY;
    this.ackHistNo[slot] = this.ackNo;
    this.ackHistUs[slot] = now;
    const used = seqOff(this.rcvBase, this.rcvNext);
    const n = encodeFullAck(
      this.ctl, this.ackNo, this.ts(now), this.peerSocketId, this.ackSeq, this.rttUs, this.rttVarUs,
      Math.max(this.rcvCap - used, 2), this.rcvPktRate, Math.max(this.rcvPktRate, 1000), this.rcvByteRate,
    );
    this.lastAckSeqSent = this.ackSeq;
    this.lastFullAckUs = now;
    this.pktsSinceAck = 0;
    this.st.ackSent++;
    this.out(this.ctl, n, now);
  }

  /** Doubles the receive ring, its slots in sequence order from index 0. */
  private growRcv(): void {
    const n = this.rcvSize * 2;
    const data = new Array<Uint8Array | undefined>(n);
    const len = new Int32Array(n).fill(-1);
    const ts = new Float64Array(n);
    for (let i = 0; i < this.rcvSize; i++) {
      const j = (this.rcvHead + i) & this.rcvMask;
      data[i] = this.rcvData[j];
      len[i] = this.rcvLen[j]!;
      ts[i] = this.rcvTs[j]!;
    }
    this.rcvData = data;
    this.rcvLen = len;
    this.rcvTs = ts;
    this.rcvHead = 0;
    this.rcvSize = n;
    this.rcvMask = n - 1;
  }

  /** Doubles the send ring, its slots in sequence order from index 0. */
  private growSnd(): void {
    const n = this.sndSize * 2;
    const pkt = new Array<Uint8Array | undefined>(n);
    const len = new Int32Array(n);
    const origin = new Float64Array(n);
    const lastTx = new Float64Array(n);
    const rexmitTx = new Float64Array(n);
    for (let i = 0; i < this.sndSize; i++) {
      const j = (this.sndHead + i) & this.sndMask;
      pkt[i] = this.sndPkt[j];
      len[i] = this.sndLen[j]!;
      origin[i] = this.sndOrigin[j]!;
      lastTx[i] = this.sndLastTx[j]!;
      rexmitTx[i] = this.sndRexmitTx[j]!;
    }
    this.sndPkt = pkt;
    this.sndLen = len;
    this.sndOrigin = origin;
    this.sndLastTx = lastTx;
    this.sndRexmitTx = rexmitTx;
    this.sndHead = 0;
    this.sndSize = n;
    this.sndMask = n - 1;
  }

  /**
   * Queues one message for sending. Payloads larger than `payloadSize` are split into several packets.
   * Returns false when the connection is closed.
   */
  send(payload: Uint8Array): boolean {
    if (this.closedReason !== null || this.lingering !== null) return false;
    const now = this.clock();
    const max = this.p.payloadSize;
    for (let o = 0; o < payload.length || (o === 0 && payload.length === 0); o += max) {
      const n = Math.min(max, payload.length - o);
      const inFlight = seqOff(this.sndBase, this.sndNext);
      if (inFlight >= this.sndSize && this.sndSize < this.sndCap) this.growSnd();
      if (inFlight >= this.sndCap) this.dropOldest();
      const idx = (this.sndHead + seqOff(this.sndBase, this.sndNext)) & this.sndMask;
      let pkt = this.sndPkt[idx];
      if (pkt === undefined || pkt.length < HEADER_SIZE + max) {
        pkt = this.sndPool.pop() ?? new Uint8Array(HEADER_SIZE + max);
        this.sndPkt[idx] = pkt;
      }
      this.msgNo = msgNext(this.msgNo);
      const cipher = this.p.sndCipher;
      writeDataHeader(pkt, this.sndNext, PP_SOLO, false, cipher ? KK_EVEN : KK_NONE, false, this.msgNo, 0, this.peerSocketId);
      pkt.set(payload.subarray(o, o + n), HEADER_SIZE);
      if (cipher) cipher.apply(this.sndNext, pkt, HEADER_SIZE, n);
      this.sndLen[idx] = HEADER_SIZE + n;
      this.sndOrigin[idx] = now;
      this.sndLastTx[idx] = 0;
      this.sndRexmitTx[idx] = 0;
      this.sndNext = seqAdd(this.sndNext, 1);
      this.winBytesSubmitted += n;
      if (n === 0) break;
    }
    if (this.p.scheduler) this.p.scheduler.wake(this);
    else this.flush(now);
    return true;
  }

  private releaseSnd(i: number): void {
    const b = this.sndPkt[i];
    if (b !== undefined) {
      this.sndPkt[i] = undefined;
      if (this.sndPool.length < POOL_MAX) this.sndPool.push(b);
    }
    this.sndLen[i] = 0;
  }

  private dropOldest(): void {
    if (this.sndTxNext === this.sndBase) this.sndTxNext = seqAdd(this.sndTxNext, 1);
    this.releaseSnd(this.sndHead);
    this.sndHead = (this.sndHead + 1) & this.sndMask;
    this.sndBase = seqAdd(this.sndBase, 1);
    this.st.pktSndDrop++;
  }

  /** Bytes/s: maxbw, or 2 × the input rate (≥ 10 Mbps) and always enough to drain the queue within 250 ms. */
  private paceRate(): number {
    if (this.p.maxBw > 0) return this.p.maxBw;
    const queued = seqOff(this.sndTxNext, this.sndNext) * (HEADER_SIZE + this.p.payloadSize);
    return Math.max(2 * this.inputRate, 1_250_000, queued * 4);
  }

  /** Sends queued packets as the token bucket allows; schedules itself for the rest (no scheduler). */
  private flush(now: number): void {
    const r = this.pump(now, Infinity);
    if (r > 0 && this.flushTimer === null) this.flushTimer = setTimeout(this.flushBound, Math.max(1, Math.ceil(r / 1000)));
  }

  /**
   * Sends up to `max` queued packets as the token bucket allows. Returns -1 when nothing is left to send, 0 when
   * `max` was reached with more sendable now, or the µs to wait for the tokens of the next packet.
   */
  pump(now: number, max: number): number {
    if (this.closedReason !== null) return -1;
    const rate = this.paceRate() / 1e6; // bytes per µs
    const elapsed = now - this.lastRefillUs;
    // After idling the bucket holds a 5 ms burst at most; a backlogged sender woken late keeps what it was owed.
    let burst = Math.max(4 * (HEADER_SIZE + this.p.payloadSize), rate * 5000);
    if (this.backlogged) burst = Math.max(burst, Math.min(elapsed, MAX_CATCH_UP_US) * rate);
    this.tokens = Math.min(burst, this.tokens + elapsed * rate);
    this.lastRefillUs = now;
    this.backlogged = false;
    let sent = 0;
    while (this.sndTxNext !== this.sndNext) {
      const off = seqOff(this.sndBase, this.sndTxNext);
      const idx = (this.sndHead + off) & this.sndMask;
      const len = this.sndLen[idx]!;
      if (now - this.sndOrigin[idx]! > this.sndDropUs) {
        // Waited too long to even leave: skip it (the receiver will NAK it and get a DROPREQ).
        this.sndTxNext = seqAdd(this.sndTxNext, 1);
        this.st.pktSndDrop++;
        continue;
      }
      if (this.tokens < len) {
        this.backlogged = true;
        return Math.max(1, (len - this.tokens) / rate);
      }
      if (sent >= max) {
        this.backlogged = true;
        return 0;
      }
      sent++;
      this.tokens -= len;
      const pkt = this.sndPkt[idx]!;
      const ts = this.ts(now);
      pkt[8] = ts >>> 24;
      pkt[9] = ts >>> 16;
      pkt[10] = ts >>> 8;
      pkt[11] = ts;
      this.sndLastTx[idx] = now;
      this.lastDataTxUs = now;
      this.out(pkt, len, now);
      this.st.pktOut++;
      this.st.bytesOut += len - HEADER_SIZE;
      this.winBytesOut += len - HEADER_SIZE;
      this.sndTxNext = seqAdd(this.sndTxNext, 1);
    }
    return -1;
  }

  // ================================================================ delivery & timers

  private deliver(now: number): void {
    const tsbpd = this.p.tsbpd;
    while (this.rcvBase !== this.rcvNext && this.closedReason === null) {
      const i = this.rcvHead;
      const len = this.rcvLen[i]!;
      if (len >= 0) {
        if (tsbpd && now < this.tsbpdBaseUs + this.rcvTs[i]! + this.rcvLatencyUs) break;
        const slot = this.rcvData[i]!;
        this.rcvLen[i] = -1;
        this.advanceBase();
        const view = slot.subarray(0, len);
        for (let k = 0; k < this.dataCbs.length; k++) this.dataCbs[k]!(view);
        continue;
      }
      if (len === -2) {
        this.rcvLen[i] = -1;
        this.st.pktRcvDrop++;
        this.advanceBase();
        continue;
      }
      // A hole: wait, unless the next packet present is already due and too-late drop is on.
      if (!tsbpd || !this.p.tlpktdrop) {
        if (seqOff(this.rcvBase, this.rcvNext) < this.rcvCap - 1) break;
      } else {
        let j = 1;
        const span = seqOff(this.rcvBase, this.rcvNext);
        let found = -1;
        for (; j < span; j++) {
          const idx = (i + j) & this.rcvMask;
          if (this.rcvLen[idx]! >= 0) {
            found = idx;
            break;
          }
        }
        if (found < 0 || now < this.tsbpdBaseUs + this.rcvTs[found]! + this.rcvLatencyUs) break;
        for (let k = 0; k < j; k++) {
          const idx = this.rcvHead;
          if (this.rcvLen[idx] === -1) {
            this.lossCount--;
            this.st.pktRcvDrop++;
          } else if (this.rcvLen[idx] === -2) this.st.pktRcvDrop++;
          this.rcvLen[idx] = -1;
          this.advanceBase();
        }
        continue;
      }
      // Buffer full without TSBPD/TLPKTDROP: give up on the hole.
      this.lossCount--;
      this.st.pktRcvDrop++;
      this.advanceBase();
    }
  }

  /** On peer shutdown: hand over everything already received, in order, without waiting for its time. */
  private drainReceived(): void {
    while (this.rcvBase !== this.rcvNext) {
      const i = this.rcvHead;
      const len = this.rcvLen[i]!;
      const buf = this.rcvData[i];
      this.rcvLen[i] = -1;
      this.advanceBase();
      if (len < 0 || buf === undefined) continue;
      const view = buf.subarray(0, len);
      for (let k = 0; k < this.dataCbs.length; k++) this.dataCbs[k]!(view);
    }
  }

  /** Moves the delivery point one packet on; the slot's buffer goes back to the pool (still readable until reused). */
  private advanceBase(): void {
    const b = this.rcvData[this.rcvHead];
    if (b !== undefined) {
      this.rcvData[this.rcvHead] = undefined;
      if (this.rcvPool.length < POOL_MAX) this.rcvPool.push(b);
    }
    this.rcvHead = (this.rcvHead + 1) & this.rcvMask;
    this.rcvBase = seqAdd(this.rcvBase, 1);
    if (seqOff(this.ackSeq, this.rcvBase) > 0) this.advanceAck();
  }

  /** Periodic work (~every 10 ms): delivery, ACK, periodic NAK, sender drop, keepalive, idle timeout. */
  tick(now: number): void {
    if (this.closedReason !== null) return;
    if (now - this.lastRecvUs > this.p.peerIdleTimeoutMs * 1000) {
      this.finish(`peer idle timeout (${this.p.peerIdleTimeoutMs} ms)`, true);
      return;
    }
    // A late tick means the event loop was busy: the peer's ACKs may be waiting unread in the socket, so an ACK
    // stall is not judged on this tick (resending then only produces duplicates and more load). Only one tick in
    // a row is skipped: under sustained load every tick is late, and the ACKs that were pending at the previous
    // one have been read since, so a lost tail is still resent before the sender's drop deadline.
    const late = now - this.lastTickUs > 30_000 && !this.skippedLateTick;
    this.skippedLateTick = late;
    this.lastTickUs = now;
    this.deliver(now);
    if (now - this.lastFullAckUs >= ACK_INTERVAL_US && this.ackSeq !== this.lastAckSeqSent) this.sendFullAck(now);
    if (this.lossCount > 0) {
      const interval = Math.max(MIN_NAK_INTERVAL_US, (this.rttUs + 4 * this.rttVarUs) / 2);
      if (now - this.lastNakUs >= interval) {
        this.lastNakUs = now;
        this.sendPeriodicNak(now);
      }
    }
    // Sender: a lost tail (nothing after it reveals the gap, so no NAK comes) is resent when the ACK stalls. While
    // packets keep leaving, a gap shows up at the receiver and is NAKed: a stalled ACK then means a busy peer,
    // and resending blindly would only add duplicates.
    if (this.sndBase !== this.sndTxNext) {
      const rto = Math.max(4 * this.senderRttUs() + 20_000, 50_000);
      if (!late && now - this.lastAckProgressUs > rto && now - this.lastDataTxUs > rto / 2) this.resendUnacked(now, rto);
    } else {
      this.lastAckProgressUs = now;
    }
    // Sender: forget packets too old to be useful.
    while (this.sndBase !== this.sndTxNext && now - this.sndOrigin[this.sndHead]! > this.sndDropUs) this.dropOldest();
    if (this.sndTxNext !== this.sndNext) {
      if (this.p.scheduler) this.p.scheduler.wake(this);
      else if (this.flushTimer === null) this.flush(now);
    }
    if (this.lingering !== null) {
      if (this.drained(now)) {
        this.finish(this.lingering.reason, true);
        return;
      }
      if (now >= this.lingering.deadlineUs) {
        const left = seqOff(this.sndBase, this.sndNext);
        this.log.warn(`srt: ${this.remoteAddress}:${this.remotePort} closed with ${left} packets unacknowledged after lingering ${this.p.lingerMs} ms`);
        this.finish(`${this.lingering.reason} (linger timeout, ${left} packets unacknowledged)`, true);
        return;
      }
    }
    if (now - this.lastSendUs >= KEEPALIVE_US) {
      writeControlHeader(this.ctl, CTRL_KEEPALIVE, 0, 0, this.ts(now), this.peerSocketId);
      this.out(this.ctl, HEADER_SIZE, now);
    }
    if (now - this.winStartUs >= 1_000_000) {
      const secs = (now - this.winStartUs) / 1e6;
      this.rcvPktRate = Math.round(this.winPktsIn / secs);
      this.rcvByteRate = Math.round(this.winBytesIn / secs);
      this.sndByteRate = Math.round(this.winBytesOut / secs);
      this.inputRate = this.winBytesSubmitted / secs;
      this.winPktsIn = this.winBytesIn = this.winBytesOut = this.winBytesSubmitted = 0;
      this.winStartUs = now;
    }
  }

  // ================================================================ closing & stats

  /**
   * Closes: takes no more data and sends SHUTDOWN once everything queued was sent, acknowledged and is due at
   * the receiver (its TSBPD time), or after `lingerMs` (default: the connection's `lingerMs`; 0: at once).
   * onClose callbacks run then. Idempotent; a second call with lingerMs 0 cuts a linger short.
   */
  close(reason = "closed by application", lingerMs = this.p.lingerMs ?? 0): void {
    if (this.closedReason !== null) return;
    const now = this.clock();
    if (lingerMs <= 0 || this.drained(now)) {
      this.finish(this.lingering?.reason ?? reason, true);
      return;
    }
    if (this.lingering !== null) return;
    this.lingering = { reason, deadlineUs: now + lingerMs * 1000 };
    if (this.p.scheduler) this.p.scheduler.wake(this);
    else this.flush(now);
  }

  /**
   * Nothing left for the peer: every packet sent and acknowledged (or dropped), and the last one's TSBPD time
   * at the receiver (its first transmission + the latency) passed, so a SHUTDOWN now discards nothing there.
   */
  private drained(now: number): boolean {
    if (this.sndBase !== this.sndNext) return false;
    return this.lastDataTxUs === 0 || now >= this.lastDataTxUs + this.sndLatencyUs + LINGER_MARGIN_US;
  }

  private finish(reason: string, sendShutdown: boolean): void {
    if (this.closedReason !== null) return;
    if (sendShutdown) {
      const now = this.clock();
      writeControlHeader(this.ctl, CTRL_SHUTDOWN, 0, 0, this.ts(now), this.peerSocketId);
      this.out(this.ctl, HEADER_SIZE, now);
    }
    this.closedReason = reason;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const cbs = this.closeCbs;
    this.closeCbs = [];
    this.dataCbs = [];
    for (const cb of cbs) {
      try {
        cb(reason);
      } catch (e) {
        this.log.error("srt: close callback failed", e);
      }
    }
  }

  /** Packets in the send buffer (sent or waiting, not yet acknowledged): the cheap part of stats(). */
  get sendBufferedPackets(): number {
    return seqOff(this.sndBase, this.sndNext);
  }

  stats(): SrtStats {
    const now = this.clock();
    const rtt = this.haveRtt ? this.rttUs : this.peerRttUs > 0 ? this.peerRttUs : this.rttUs;
    const rttVar = this.haveRtt ? this.rttVarUs : this.peerRttUs > 0 ? this.peerRttVarUs : this.rttVarUs;
    return {
      ...this.st,
      rttMs: rtt / 1000,
      rttVarMs: rttVar / 1000,
      rcvLatencyMs: this.p.rcvLatencyMs,
      sndLatencyMs: this.p.sndLatencyMs,
      rcvBufPackets: seqOff(this.rcvBase, this.rcvNext),
      sndBufPackets: seqOff(this.sndBase, this.sndNext),
      recvRateMbps: (this.rcvByteRate * 8) / 1e6,
      sendRateMbps: (this.sndByteRate * 8) / 1e6,
      uptimeMs: (now - this.createdUs) / 1000,
    };
  }
}
