/**
 * RTMP media messages as FLV tag bodies (RTMP 1.0 section 7.1: audio 8, video 9, data 18 and AMF3 data 15; FLV 10.1
 * annex E.4: the message payload is the tag body). Shared by a publishing session and the pull client.
 *
 *  - Each kind has its own timestamp line, unwrapped past 32 bits (RTMP 1.0 section 5.3.1.1: timestamps wrap).
 *  - AMF3 data carries one leading 0 byte, then AMF0; "@setDataFrame" is dropped, and of data only onMetaData is
 *    stream metadata (anything else is no tag).
 *
 * Hot path: `read` allocates nothing; the tag it found is left in `timestamp` and `body` until the next call.
 */
import { dataName, rewriteSetDataFrame } from "./commands.ts";
import { MSG_AMF0_DATA, MSG_AMF3_DATA, MSG_AUDIO, MSG_VIDEO, type RtmpMessage, TimestampUnwrapper } from "./messages.ts";

export type RtmpTagKind = "audio" | "video" | "data";

/** One stream's reader (it holds that stream's timestamp lines). */
export class RtmpTagReader {
  private readonly audio = new TimestampUnwrapper();
  private readonly video = new TimestampUnwrapper();
  private readonly data = new TimestampUnwrapper();
  /** The last tag's unwrapped timestamp (ms). */
  timestamp = 0;
  /** The last tag's body: a view of the message payload, no copy. */
  body: Uint8Array = new Uint8Array(0);

  /** The kind of tag `m` is (its timestamp and body then in `timestamp`, `body`), or undefined when it is none. */
  read(m: RtmpMessage): RtmpTagKind | undefined {
    if (m.type === MSG_VIDEO) {
      this.timestamp = this.video.unwrap(m.timestamp);
      this.body = m.payload;
      return "video";
    }
    if (m.type === MSG_AUDIO) {
      this.timestamp = this.audio.unwrap(m.timestamp);
      this.body = m.payload;
      return "audio";
    }
    if (m.type !== MSG_AMF0_DATA && m.type !== MSG_AMF3_DATA) return undefined;
    const body = rewriteSetDataFrame(m.type === MSG_AMF3_DATA ? m.payload.subarray(1) : m.payload);
    if (dataName(body) !== "onMetaData") return undefined;
    this.timestamp = this.data.unwrap(m.timestamp);
    this.body = body;
    return "data";
  }
}
