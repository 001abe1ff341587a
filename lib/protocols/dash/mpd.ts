/**
 * The live MPD (ISO/IEC 23009-1 5.3, "MPEG-DASH"), rendered from the stream's segment lists: a `dynamic`
 * presentation in the ISO BMFF live profile (urn:mpeg:dash:profile:isoff-live:2011, 23009-1 8.4), one Period
 * starting at 0, one AdaptationSet per track (video and audio are separate representations with their own init
 * segment, as SRS writes them and as dash.js, FFmpeg and GStreamer expect).
 *
 * Addressing: SegmentTemplate with `$Number$` and a SegmentTimeline (23009-1 5.3.9.4 and 5.3.9.6): each `S`
 * gives the segment's start `t` (only where it is not the previous end: after a republish) and duration `d` in
 * the track's own timescale (90 kHz video, the sample rate for audio, so the times are exactly the tfdt of the
 * segments), `r` for runs of equal durations; `startNumber` is the first listed segment's number and numbers
 * go up by one per S entry (23009-1 5.3.9.6.2), never reused. Presentation time 0 is availabilityStartTime
 * (Period@start 0, no presentationTimeOffset): the server maps the media timeline to the wall clock at each
 * publish (service.ts), which is what DASH-IF IOP 4.3 live timing needs (segment available at
 * AST + its end time).
 *
 * Timing attributes (23009-1 5.3.1.2, DASH-IF IOP v4.3 section 4.3): availabilityStartTime fixed for the life of
 * the stream state; publishTime the last change; minimumUpdatePeriod how often players reload it;
 * timeShiftBufferDepth what is listed (never more than what is listed, so every listed segment exists);
 * suggestedPresentationDelay how far behind the live edge players sit; maxSegmentDuration the longest listed
 * segment. `<UTCTiming>` (23009-1 5.8.5.7, urn:mpeg:dash:utc:direct:2014) carries the server's clock in the
 * MPD itself, so players do not need an external time server.
 */

export interface MpdSegment {
  number: number;
  /** Start and duration in the track's timescale. */
  t: number;
  d: number;
}

export interface MpdTrack {
  /** Representation id and file prefix: "video" / "audio". */
  id: "video" | "audio";
  /** RFC 6381 codec string, e.g. "avc1.64001f", "mp4a.40.2". */
  codecs: string;
  timescale: number;
  /** Bits per second (estimated from the listed segments). */
  bandwidth: number;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** SegmentTemplate URLs, relative to the MPD ($Number$ in media). */
  initialization: string;
  media: string;
  /** Listed segments, oldest first. */
  segments: readonly MpdSegment[];
}

export interface MpdInput {
  availabilityStartTime: Date;
  publishTime: Date;
  /** Seconds. */
  minimumUpdatePeriod: number;
  timeShiftBufferDepth: number;
  minBufferTime: number;
  suggestedPresentationDelay: number;
  maxSegmentDuration: number;
  tracks: readonly MpdTrack[];
  /** The server's clock for UTCTiming direct (omitted when undefined). */
  now?: Date;
}

/** xs:dateTime in UTC with milliseconds, e.g. 2026-12-05T21:50:39.123Z. */
export function isoDateTime(d: Date): string {
  return d.toISOString();
}

/** xs:duration in seconds, e.g. PT12.345S (at most 3 decimals, trailing zeros dropped). */
export function isoDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds * 1000) / 1000);
  return `PT${Number(s.toFixed(3))}S`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** SegmentTimeline S entries: `t` where a segment does not start at the previous end, `r` for equal runs. */
export function renderTimeline(segments: readonly MpdSegment[], indent: string): string {
  const lines: string[] = [];
  let i = 0;
  let prevEnd: number | undefined;
  while (i < segments.length) {
    const s = segments[i]!;
    let r = 0;
    while (i + r + 1 < segments.length) {
      const n = segments[i + r + 1]!;
      if (n.d !== s.d || n.t !== s.t + (r + 1) * s.d) break;
      r++;
    }
    const t = prevEnd === s.t ? "" : ` t="${s.t}"`;
    lines.push(`${indent}<S${t} d="${s.d}"${r ? ` r="${r}"` : ""}/>`);
    prevEnd = s.t + (r + 1) * s.d;
    i += r + 1;
  }
  return lines.join("\n");
}

function representation(t: MpdTrack): string {
  const first = t.segments[0]!;
  const video = t.id === "video";
  const attrs = [`id="${t.id}"`, `bandwidth="${Math.max(1, Math.round(t.bandwidth))}"`, `codecs="${escapeXml(t.codecs)}"`];
  if (video && t.width && t.height) attrs.push(`width="${t.width}"`, `height="${t.height}"`);
  if (!video && t.sampleRate) attrs.push(`audioSamplingRate="${t.sampleRate}"`);
  const out = [
    `    <AdaptationSet id="${video ? 0 : 1}" contentType="${video ? "video" : "audio"}" mimeType="${video ? "video" : "audio"}/mp4" segmentAlignment="true" startWithSAP="1">`,
    `      <Representation ${attrs.join(" ")}>`,
  ];
  if (!video && t.channels) {
    out.push(`        <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${t.channels}"/>`);
  }
  out.push(
    `        <SegmentTemplate timescale="${t.timescale}" initialization="${escapeXml(t.initialization)}" media="${escapeXml(t.media)}" startNumber="${first.number}">`,
    "          <SegmentTimeline>",
    renderTimeline(t.segments, "            "),
    "          </SegmentTimeline>",
    "        </SegmentTemplate>",
    "      </Representation>",
    "    </AdaptationSet>",
  );
  return out.join("\n");
}

/** The MPD text; tracks without listed segments are left out. */
export function renderMpd(m: MpdInput): string {
  const tracks = m.tracks.filter((t) => t.segments.length > 0);
  const profiles = "urn:mpeg:dash:profile:isoff-live:2011";
  const out = [
    `<?xml version="1.0" encoding="utf-8"?>`,
    `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="${profiles}" type="dynamic"`,
    `  availabilityStartTime="${isoDateTime(m.availabilityStartTime)}" publishTime="${isoDateTime(m.publishTime)}"`,
    `  minimumUpdatePeriod="${isoDuration(m.minimumUpdatePeriod)}" minBufferTime="${isoDuration(m.minBufferTime)}"`,
    `  timeShiftBufferDepth="${isoDuration(m.timeShiftBufferDepth)}" suggestedPresentationDelay="${isoDuration(m.suggestedPresentationDelay)}"`,
    `  maxSegmentDuration="${isoDuration(m.maxSegmentDuration)}">`,
  ];
  out.push(`  <Period id="0" start="PT0S">`);
  for (const t of tracks) out.push(representation(t));
  out.push(`  </Period>`);
  if (m.now) out.push(`  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="${isoDateTime(m.now)}"/>`);
  out.push(`</MPD>`, "");
  return out.join("\n");
}
