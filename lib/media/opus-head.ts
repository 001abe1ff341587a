/**
 * OpusHead (RFC 7845 5.1), what MediaPacket carries as Opus's sequence header (packet.ts): built for mapping family
 * 0 and read back for its channel count. Apart from the transcoders so that protocols (RTSP) take it without
 * loading them.
 */

/** OpusHead (RFC 7845 5.1) for mapping family 0. */
export function buildOpusHead(channels: number, inputSampleRate: number, preSkip = 312): Uint8Array {
  const b = new Uint8Array(19);
  b.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64]); // "OpusHead"
  b[8] = 1;
  b[9] = channels;
  b[10] = preSkip & 0xff;
  b[11] = preSkip >> 8;
  b[12] = inputSampleRate & 0xff;
  b[13] = (inputSampleRate >> 8) & 0xff;
  b[14] = (inputSampleRate >> 16) & 0xff;
  b[15] = (inputSampleRate >>> 24) & 0xff;
  // output gain 0, mapping family 0
  return b;
}

/** Channel count of an OpusHead, or 0 when it is not one. */
export function opusHeadChannels(b: Uint8Array): number {
  if (b.length < 19 || String.fromCharCode(...b.subarray(0, 8)) !== "OpusHead") return 0;
  return b[9]!;
}
