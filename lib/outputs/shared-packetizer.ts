/**
 * The live packetizing step of a hub's shared output whose players all get the same units (RTSP, WebRTC): each
 * hub packet is packetized once for every player; while nobody plays, only sequence headers are taken (so the
 * first keyframe a later player gets carries the current parameter sets); a codec the packetizer cannot carry
 * is warned about once.
 */
import type { StreamHub } from "../hub/stream-hub.ts";
import type { MediaPacket } from "../media/packet.ts";

/** A stateful packetizer: hub packets -> units, noting the codecs it had to skip. */
export interface UnitPacketizer<U> {
  unit(p: MediaPacket): U | undefined;
  readonly unsupported: ReadonlySet<string>;
}

export class SharedPacketizer<U, P extends UnitPacketizer<U> = UnitPacketizer<U>> {
  private warned = new Set<string>();

  /** `warn` is called once per codec `packetizer` reports unsupported. */
  constructor(readonly packetizer: P, private warn: (codec: string) => void) {}

  /** Takes the sequence headers of a hub already live (an output is attached without replay). */
  takeSequenceHeaders(hub: Pick<StreamHub, "active" | "startupPackets">): void {
    if (hub.active) for (const p of hub.startupPackets()) if (p.config) this.packetizer.unit(p);
  }

  /** The unit for `p`, packetized once for all players; with no players (`watched` false) undefined. */
  unit(p: MediaPacket, watched: boolean): U | undefined {
    if (!watched) {
      // still track parameter sets for later players
      if (p.config) this.packetizer.unit(p);
      return undefined;
    }
    const u = this.packetizer.unit(p);
    for (const c of this.packetizer.unsupported) {
      if (this.warned.has(c)) continue;
      this.warned.add(c);
      this.warn(c);
    }
    return u;
  }
}
