/**
 * RTMP NetConnection / NetStream commands (spec 7.2): decoding command messages and building the responses and
 * onStatus events an RTMP server sends, shaped like SRS's so clients see what they would see with SRS.
 */
import { Amf0Error, amf3CommandBody, decodeAll, decodeAt, ecmaArray, encode } from "../../formats/amf0.ts";
import type { Amf0Object, Amf0Value } from "../../formats/amf0.ts";
import { CSID_COMMAND, CSID_OVER_CONNECTION2, MSG_AMF0_COMMAND, MSG_AMF0_DATA, MSG_AMF3_COMMAND, RtmpProtocolError } from "./messages.ts";
import type { RtmpMessage } from "./messages.ts";

export interface RtmpCommand {
  name: string;
  transactionId: number;
  /** The command object (connect's properties), null for most commands. */
  commandObject: Amf0Value;
  /** The remaining arguments (stream name, publish type, start, ...). */
  args: Amf0Value[];
}

/**
 * Decodes an AMF0 (type 20) or AMF3 (type 17, leading 0x00 then AMF0) command payload. A missing transaction id
 * or command object reads as 0 / null (some clients omit them on notifications).
 */
export function decodeCommand(payload: Uint8Array, type: number = MSG_AMF0_COMMAND): RtmpCommand {
  const body = type === MSG_AMF3_COMMAND ? amf3CommandBody(payload) : payload;
  let values: Amf0Value[];
  try {
    values = decodeAll(body);
  } catch (e) {
    if (e instanceof Amf0Error) throw new RtmpProtocolError(`bad command message: ${e.message}`);
    throw e;
  }
  const name = values[0];
  if (typeof name !== "string") throw new RtmpProtocolError(`command message without a name (got ${typeof name})`);
  const tid = values[1];
  return {
    name,
    transactionId: typeof tid === "number" ? tid : 0,
    commandObject: values.length > 2 ? values[2] : null,
    args: values.slice(3),
  };
}

/** Builds a command message (type 20) on the given chunk stream. */
export function commandMessage(values: Amf0Value[], streamId = 0, csid = CSID_COMMAND): RtmpMessage {
  return { type: MSG_AMF0_COMMAND, streamId, timestamp: 0, csid, payload: encode(...values) };
}

/** Builds a data message (type 18), e.g. |RtmpSampleAccess or onMetaData. */
export function dataMessage(values: Amf0Value[], streamId: number, csid = CSID_OVER_CONNECTION2): RtmpMessage {
  return { type: MSG_AMF0_DATA, streamId, timestamp: 0, csid, payload: encode(...values) };
}

// ---------------------------------------------------------------------------------------------------------
// NetConnection

export const FMS_VERSION = "FMS/3,5,3,888";
export const FMS_VERSION_NUMBER = "3,5,3,888";

export interface ConnectResultOptions {
  transactionId?: number;
  /** The client's objectEncoding (0 AMF0, 3 AMF3), echoed back. */
  objectEncoding?: number;
  /** Extra `data` fields (SRS puts srs_server, srs_version, srs_id, srs_pid, srs_server_ip, ...). */
  data?: Amf0Object;
}

/** `_result` of connect: NetConnection.Connect.Success, like SRS's. */
export function connectResult(opts: ConnectResultOptions = {}): RtmpMessage {
  return commandMessage([
    "_result",
    opts.transactionId ?? 1,
    { fmsVer: FMS_VERSION, capabilities: 127, mode: 1 },
    {
      level: "status",
      code: "NetConnection.Connect.Success",
      description: "Connection succeeded",
      objectEncoding: opts.objectEncoding ?? 0,
      data: ecmaArray({ version: FMS_VERSION_NUMBER, ...(opts.data ?? {}) }),
    },
  ]);
}

/** `_error` of connect (e.g. NetConnection.Connect.Rejected). */
export function connectError(
  description: string,
  code = "NetConnection.Connect.Rejected",
  transactionId = 1,
): RtmpMessage {
  return commandMessage(["_error", transactionId, null, { level: "error", code, description }]);
}

/** `_result` of createStream: the new stream id (1 by default, as SRS). */
export function createStreamResult(transactionId: number, streamId = 1): RtmpMessage {
  return commandMessage(["_result", transactionId, null, streamId]);
}

/** A generic `_result` with an undefined info (answer to releaseStream, FCPublish, FCUnpublish). */
export function simpleResult(transactionId: number): RtmpMessage {
  return commandMessage(["_result", transactionId, null, undefined]);
}

/** `_result` of getStreamLength (duration in seconds; 0 for live). */
export function getStreamLengthResult(transactionId: number, duration = 0): RtmpMessage {
  return commandMessage(["_result", transactionId, null, duration]);
}

/** onBWDone, sent by SRS after the connect result. */
export function onBWDone(): RtmpMessage {
  return commandMessage(["onBWDone", 0, null]);
}

// ---------------------------------------------------------------------------------------------------------
// NetStream

export interface StatusInfo {
  level?: "status" | "error" | "warning";
  code: string;
  description: string;
  /** SRS adds clientid and, for plays, details. */
  extra?: Amf0Object;
}

/** An onStatus command on a NetStream (transaction 0, null command object). */
export function onStatus(streamId: number, info: StatusInfo, csid = CSID_OVER_CONNECTION2): RtmpMessage {
  const obj: Amf0Object = { level: info.level ?? "status", code: info.code, description: info.description };
  if (info.extra) Object.assign(obj, info.extra);
  return commandMessage(["onStatus", 0, null, obj], streamId, csid);
}

const status = (code: string, description: string, level: StatusInfo["level"] = "status") =>
(streamId: number, extra?: Amf0Object): RtmpMessage => onStatus(streamId, { level, code, description, extra });

export const publishStart = status("NetStream.Publish.Start", "Started publishing stream.");
export const publishBadName = status("NetStream.Publish.BadName", "Stream is already publishing.", "error");
export const unpublishSuccess = status("NetStream.Unpublish.Success", "Stream is now unpublished.");
export const playReset = status("NetStream.Play.Reset", "Playing and resetting stream.");
export const playStart = status("NetStream.Play.Start", "Started playing stream.");
export const dataStart = status("NetStream.Data.Start", "Started playing stream.");
export const playPublishNotify = status("NetStream.Play.PublishNotify", "Now published.");
export const playUnpublishNotify = status("NetStream.Play.UnpublishNotify", "Stream is now unpublished.");
export const playStreamNotFound = status("NetStream.Play.StreamNotFound", "Stream not found.", "error");
export const pauseNotify = status("NetStream.Pause.Notify", "Paused stream.");
export const unpauseNotify = status("NetStream.Unpause.Notify", "Unpaused stream.");

/**
 * SRS's RTMP 302 (srs_protocol_rtmp_stack.cpp SrsRtmpServer::redirect), sent to a player by an origin-cluster origin
 * that does not hold the stream: an error onStatus on stream 0, NetConnection.Connect.Rejected, whose `ex` names the
 * holder: `redirect` its tcUrl, `redirect2` the full URL (stream and query). A client that understands it (srs-ts's
 * edge, SRS's) reconnects there; others report the error.
 */
export function redirectStatus(tcUrl: string, url: string): RtmpMessage {
  return onStatus(0, {
    level: "error",
    code: "NetConnection.Connect.Rejected",
    description: "RTMP 302 Redirect",
    extra: { ex: { code: 302, redirect: tcUrl, redirect2: url } },
  });
}

/** onFCPublish (answer to FCPublish, Flash Media Live Encoder style). */
export function onFCPublish(streamName = ""): RtmpMessage {
  return commandMessage([
    "onFCPublish",
    0,
    null,
    { code: "NetStream.Publish.Start", description: `FCPublish to stream ${streamName}.` },
  ]);
}

/** onFCUnpublish (answer to FCUnpublish). */
export function onFCUnpublish(streamName = ""): RtmpMessage {
  return commandMessage([
    "onFCUnpublish",
    0,
    null,
    { code: "NetStream.Unpublish.Success", description: `FCUnpublish to stream ${streamName}.` },
  ]);
}

/** |RtmpSampleAccess data message (allows audio/video sample access in Flash), sent before playing. */
export function sampleAccess(streamId: number, audio = false, video = false): RtmpMessage {
  return dataMessage(["|RtmpSampleAccess", audio, video], streamId);
}

// ---------------------------------------------------------------------------------------------------------
// Data messages

const SET_DATA_FRAME = "@setDataFrame";

/**
 * If an AMF0 data payload starts with the string "@setDataFrame", returns the payload without it (so it starts
 * with "onMetaData"); otherwise returns the payload unchanged. Returns a view, no copy.
 */
export function rewriteSetDataFrame(payload: Uint8Array): Uint8Array {
  // 0x02, u16 length 13, "@setDataFrame"
  if (payload.length < 16 || payload[0] !== 0x02 || payload[1] !== 0 || payload[2] !== SET_DATA_FRAME.length) {
    return payload;
  }
  for (let i = 0; i < SET_DATA_FRAME.length; i++) {
    if (payload[3 + i] !== SET_DATA_FRAME.charCodeAt(i)) return payload;
  }
  return payload.subarray(3 + SET_DATA_FRAME.length);
}

/** The first value of a data payload when it is a string (e.g. "onMetaData"), else undefined. */
export function dataName(payload: Uint8Array): string | undefined {
  try {
    const { value } = decodeAt(payload, 0);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}
