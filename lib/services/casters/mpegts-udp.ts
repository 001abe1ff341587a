/**
 * `caster mpegts_over_udp` (SRS: SrsMpegtsOverUdp): a UDP port taking MPEG-TS datagrams (ISO/IEC 13818-1;
 * usually 7 x 188 bytes, as `ffmpeg -f mpegts udp://host:port?pkt_size=1316` or a hardware encoder sends them)
 * from any source, published as the one stream `output` names (a fixed URL: the template has no variable here).
 *
 *  - TS-shaped datagrams (a whole number of 188-byte packets, each starting with the sync byte 0x47) are probed
 *    by our TS demuxer (lib/formats/mpegts-demux.ts) until they carry a program (PAT and PMT with good CRCs);
 *    then a session starts (lib/services/casters/session.ts: hooks, claim) and the same demuxer's packets go to
 *    it. The packets of datagrams that arrive while the session is being admitted are dropped.
 *  - A sender that stops: no datagram for the vhost's `publish.normal_timeout` (5 s) ends the session
 *    (unpublish); the next datagram starts a new one. A sender that restarts at once (a new source port, or
 *    the same one) resumes the stream: once the old source has been quiet for 0.5 s, a TS-shaped datagram from
 *    a new source restarts the demuxer (new PAT/PMT, new timeline) in the same publish, so players keep playing.
 *  - Bad input: datagrams from another source while the current one sends, and datagrams that are not
 *    TS-shaped from another source, are dropped and counted (one log line per 10 s); from the current source
 *    they go to the demuxer, which resynchronises (its counters are logged at the end). Nothing is buffered beyond the demuxer's own bounds (one PES at most
 *    16 MiB) and a refused session (hook, busy stream) is retried at most once a second.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { StreamCasterConfig } from "../../config/cluster.ts";
import { TS_PACKET_LEN, TsDemuxer } from "../../formats/mpegts-demux.ts";
import type { Log } from "../../log/logger.ts";
import type { MediaPacket } from "../../media/packet.ts";
import { StallMeter } from "../../stall.ts";
import { formatEndpoint, parseEndpoint } from "../../net/endpoint.ts";
import type { CasterInstance } from "./registry.ts";
import { type CasterPorts, CasterSession, fillOutput } from "./session.ts";

const TS_SYNC = 0x47;
/** How often the idle timeout is checked, ms. */
const TIMEOUT_CHECK_MS = 1000;
/** After a refused session, datagrams are ignored this long before trying again, ms. */
const RETRY_MS = 1000;
const DROP_LOG_MS = 10000;
/** A source whose first 2 MB carry no PAT/PMT is probed afresh. */
const PROBE_MAX_BYTES = 2 * 1024 * 1024;
/** A new source takes over the session once the current one has sent nothing for this long, ms. */
const TAKEOVER_MS = 500;
/** Largest UDP payload taken (a datagram can be at most 65507 bytes on IPv4). */
const SOCKET_RCVBUF = 4 * 1024 * 1024;

/** A demuxer whose packets go to `sink` once a session takes them (nowhere before). */
interface Probe {
  demuxer: TsDemuxer;
  sink: ((p: MediaPacket) => void) | undefined;
  /** The latest decoder config of each kind seen before the session (bounded: one per kind). */
  configs: Map<string, MediaPacket>;
}

function newProbe(): Probe {
  const probe: Probe = {
    sink: undefined,
    configs: new Map(),
    demuxer: new TsDemuxer((p) => {
      if (probe.sink) probe.sink(p);
      else if (p.config) probe.configs.set(p.kind, p); // the decoder configs are sent once: kept for the session
    }),
  };
  return probe;
}

/** Whether a datagram looks like MPEG-TS: whole 188-byte packets, each starting with 0x47 (13818-1 2.4.3.2). */
export function isTsDatagram(d: Uint8Array): boolean {
  if (d.byteLength === 0 || d.byteLength % TS_PACKET_LEN !== 0) return false;
  for (let i = 0; i < d.byteLength; i += TS_PACKET_LEN) if (d[i] !== TS_SYNC) return false;
  return true;
}

export class MpegtsUdpCaster implements CasterInstance {
  readonly kind = "mpegts_over_udp";
  private socket: Socket | undefined;
  private session: CasterSession | undefined;
  private admitting = false;
  private demuxer: TsDemuxer | undefined;
  /** Before a session: the demuxer looking for a program in one source's datagrams. */
  private probe: Probe | undefined;
  private probeSource = "";
  private source = "";
  private lastDataAt = 0;
  private retryAfter = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private dropped = 0;
  private lastDropLog = 0;
  private readonly log: Log;
  private readonly stall = new StallMeter(TIMEOUT_CHECK_MS);
  boundPort = 0;

  constructor(private ctx: CasterPorts, readonly conf: StreamCasterConfig) {
    this.log = ctx.log;
  }

  get port(): number {
    return this.boundPort;
  }

  sessions(): CasterSession[] {
    return this.session ? [this.session] : [];
  }

  async start(): Promise<void> {
    const ep = parseEndpoint(this.conf.listen);
    const socket = createSocket({ type: ep.host.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(ep.port, ep.host, () => {
        socket.off("error", reject);
        resolve();
      });
    }).catch((e: Error) => {
      socket.close();
      throw new Error(`listen stream_caster mpegts_over_udp udp://${formatEndpoint(ep)}: ${e.message}`);
    });
    try {
      socket.setRecvBufferSize(SOCKET_RCVBUF);
    } catch {
      // the system limit applies
    }
    socket.on("error", (e) => this.log.warn(`caster mpegts_over_udp udp ${this.boundPort}: socket error: ${e.message}`));
    socket.on("message", (msg: Uint8Array, rinfo: RemoteInfo) => this.onDatagram(msg, rinfo));
    this.socket = socket;
    this.boundPort = socket.address().port;
    this.timer = setInterval(() => this.checkTimeout(), TIMEOUT_CHECK_MS);
    this.timer.unref?.();
    this.log.trace(`caster mpegts_over_udp listening on udp ${formatEndpoint({ host: ep.host, port: this.boundPort })}, output ${this.conf.output}`);
  }

  private onDatagram(msg: Uint8Array, rinfo: RemoteInfo): void {
    const from = `${rinfo.address}:${rinfo.port}`;
    const ts = isTsDatagram(msg);
    const s = this.session;
    if (!s) {
      if (!ts) return this.drop(from, msg.byteLength, "not MPEG-TS");
      if (Date.now() < this.retryAfter) return;
      // A session starts once a sender's datagrams carry a program (PAT + PMT, CRC-checked): TS-shaped noise
      // publishes nothing and fires no hook. The probe's demuxer becomes the session's (it keeps its tables).
      if (this.admitting) {
        if (from === this.probeSource) this.probe?.demuxer.feed(msg); // in step; its packets go nowhere yet
        return;
      }
      if (!this.probe || this.probeSource !== from || this.probe.demuxer.stats.bytes > PROBE_MAX_BYTES) {
        this.probe = newProbe();
        this.probeSource = from;
      }
      this.probe.demuxer.feed(msg);
      if (this.probe.demuxer.tracks.length === 0) return;
      this.open(this.probe, rinfo);
      return;
    }
    if (from !== this.source) {
      // Another source while the current one is sending: dropped (a stray or hostile sender cannot break the
      // stream). Once the current source has been quiet for a moment, a TS-shaped datagram takes over.
      if (!ts) return this.drop(from, msg.byteLength, "not MPEG-TS");
      if (Date.now() - this.lastDataAt < TAKEOVER_MS) return this.drop(from, msg.byteLength, `${this.source} is sending`);
      // A sender that restarted (or another one taking over): a new TS timeline in the same publish.
      this.log.trace(`caster mpegts_over_udp udp ${this.boundPort}: source ${this.source} -> ${from}, demuxer restarted`);
      this.demuxer?.flush();
      this.source = from;
      this.demuxer = this.newDemuxer(s);
    }
    this.lastDataAt = Date.now();
    s.addBytesIn(msg.byteLength);
    this.demuxer?.feed(msg);
  }

  private newDemuxer(s: CasterSession): TsDemuxer {
    return new TsDemuxer((p) => s.push(p), { onWarning: (m) => s.log.info(`mpegts_over_udp: ${m}`) });
  }

  private open(probe: Probe, rinfo: RemoteInfo): void {
    this.admitting = true;
    const s = new CasterSession(this.ctx, {
      caster: this.kind,
      type: "mpegts-publish",
      protocol: "udp",
      ip: rinfo.address,
      port: rinfo.port,
      url: fillOutput(this.conf.output, {}),
      log: this.log,
    });
    const failed = (why: string) => {
      this.admitting = false;
      this.probe = undefined;
      this.retryAfter = Date.now() + RETRY_MS;
      s.close(why);
    };
    void s.start().then((err) => {
      if (err !== undefined || this.socket === undefined || s.isClosed) return failed(err ?? "caster stopped");
      this.admitting = false;
      this.probe = undefined;
      this.session = s;
      this.source = `${rinfo.address}:${rinfo.port}`;
      this.demuxer = probe.demuxer;
      for (const c of probe.configs.values()) s.push(c);
      probe.configs.clear();
      probe.sink = (p) => s.push(p);
      this.lastDataAt = Date.now();
      s.onClose(() => this.ended(s));
    }, (e: Error) => {
      this.log.error(`caster mpegts_over_udp udp ${this.boundPort}: session failed`, e);
      failed("error");
    });
  }

  /** The session ended (timeout, kick, stop): forget it and its demuxer. */
  private ended(s: CasterSession): void {
    if (this.session !== s) return;
    const st = this.demuxer?.stats;
    if (st) {
      s.log.trace(`caster mpegts_over_udp: ts packets=${st.tsPackets} cc errors=${st.ccErrors} sync losses=${st.syncLosses} ` +
        `skipped=${st.skippedBytes}B pes errors=${st.pesErrors}`);
    }
    this.session = undefined;
    this.demuxer = undefined;
    this.source = "";
  }

  private drop(from: string, bytes: number, why: string): void {
    this.dropped++;
    const now = Date.now();
    if (now - this.lastDropLog >= DROP_LOG_MS) {
      this.lastDropLog = now;
      this.log.warn(`caster mpegts_over_udp udp ${this.boundPort}: dropped a datagram of ${bytes} bytes from ${from}: ${why} ` +
        `(${this.dropped} dropped so far)`);
    }
  }

  private checkTimeout(): void {
    // The time this process was stalled (not the sender's silence) does not count.
    this.lastDataAt += this.stall.stalledMs();
    const s = this.session;
    if (!s) return;
    const stream = s.stream;
    const limit = (stream && this.ctx.config.vhost(stream.vhost)?.publish.normalTimeout) || 5000;
    const idle = Date.now() - this.lastDataAt;
    if (idle > limit) {
      s.log.warn(`caster mpegts_over_udp udp ${this.boundPort}: no data for ${idle}ms (limit ${limit}ms), unpublish`);
      this.demuxer?.flush();
      s.close("publish timeout");
    }
  }

  /** Stops: the session unpublishes, the port closes. */
  stop(reason: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.probe = undefined;
    this.session?.close(reason);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
