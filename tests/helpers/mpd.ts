/**
 * A reader and rule checker for live MPDs (ISO/IEC 23009-1, DASH-IF IOP v4.3 live services), for the rules that
 * matter to players with a SegmentTemplate + SegmentTimeline + $Number$ presentation:
 *  - one MPD: type dynamic, isoff-live profile, availabilityStartTime / publishTime / minimumUpdatePeriod /
 *    timeShiftBufferDepth / minBufferTime present; every Representation has a SegmentTemplate with timescale,
 *    initialization, a $Number$ media template, startNumber and a SegmentTimeline whose S entries have d > 0 and
 *    never overlap (t never before the previous end); timeShiftBufferDepth not beyond what is listed; the newest
 *    segment's end near the wall clock (AST + end within [now - lag, now + lead]);
 *  - two MPDs of the same presentation (an update): the same availabilityStartTime, publishTime not going back,
 *    startNumber not going back, every segment number listed in both with the same t and d, new numbers
 *    following the previous last one (none skipped: poll more often than the window slides) and not overlapping it.
 * Gaps inside a timeline (t after the previous end) are reported in `gaps`, for the caller to judge.
 * A small attribute reader, not an XML parser: enough for MPDs we write and for well-formed ones like them.
 */

export interface TimelineSegment {
  number: number;
  t: number;
  d: number;
}

export interface ParsedRepresentation {
  id: string;
  contentType: string;
  codecs: string;
  timescale: number;
  initialization: string;
  media: string;
  startNumber: number;
  segments: TimelineSegment[];
  /** Places where a segment starts after the previous one's end: [number, gap in seconds]. */
  gaps: [number, number][];
}

export interface ParsedMpd {
  attrs: Record<string, string>;
  availabilityStartTime: number;
  publishTime: number;
  minimumUpdatePeriod: number;
  timeShiftBufferDepth: number;
  reps: ParsedRepresentation[];
  utcTiming?: { scheme: string; value: string };
}

function attrsOf(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** xs:duration PTnHnMn.nS to seconds (days and more are not used by live MPDs here). */
export function parseDuration(s: string | undefined): number {
  if (!s) return NaN;
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(s);
  if (!m) return NaN;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

export function parseMpd(text: string): ParsedMpd {
  const mpdTag = /<MPD\b[^>]*>/s.exec(text)?.[0];
  if (!mpdTag) throw new Error("no MPD element");
  const attrs = attrsOf(mpdTag);
  const reps: ParsedRepresentation[] = [];
  for (const as of text.matchAll(/<AdaptationSet\b([^>]*)>(.*?)<\/AdaptationSet>/gs)) {
    const asAttrs = attrsOf(as[1]!);
    for (const r of as[2]!.matchAll(/<Representation\b([^>]*)>(.*?)<\/Representation>/gs)) {
      const ra = attrsOf(r[1]!);
      const tplTag = /<SegmentTemplate\b[^>]*>/s.exec(r[2]!)?.[0] ?? "";
      const ta = attrsOf(tplTag);
      const timescale = Number(ta.timescale ?? 1);
      const startNumber = Number(ta.startNumber ?? 1);
      const segments: TimelineSegment[] = [];
      const gaps: [number, number][] = [];
      let number = startNumber;
      let next = 0;
      for (const s of r[2]!.matchAll(/<S\b([^>]*)\/>/g)) {
        const sa = attrsOf(s[1]!);
        const d = Number(sa.d);
        const t = sa.t !== undefined ? Number(sa.t) : next;
        if (segments.length && t > next) gaps.push([number, (t - next) / timescale]);
        if (segments.length && t < next) throw new Error(`${ra.id}: segment ${number} starts at ${t}, before the previous end ${next}`);
        if (!(d > 0)) throw new Error(`${ra.id}: segment ${number} has duration ${sa.d}`);
        const r = Number(sa.r ?? 0);
        if (r < 0) throw new Error(`${ra.id}: open-ended r=-1 is not used here`);
        for (let i = 0; i <= r; i++) segments.push({ number: number++, t: t + i * d, d });
        next = t + (r + 1) * d;
      }
      reps.push({
        id: ra.id ?? "", contentType: asAttrs.contentType ?? asAttrs.mimeType?.split("/")[0] ?? "", codecs: ra.codecs ?? "",
        timescale, initialization: ta.initialization ?? "", media: ta.media ?? "", startNumber, segments, gaps,
      });
    }
  }
  const utc = /<UTCTiming\b([^>]*)\/>/.exec(text);
  const ua = utc ? attrsOf(utc[1]!) : undefined;
  return {
    attrs,
    availabilityStartTime: Date.parse(attrs.availabilityStartTime ?? ""),
    publishTime: Date.parse(attrs.publishTime ?? ""),
    minimumUpdatePeriod: parseDuration(attrs.minimumUpdatePeriod),
    timeShiftBufferDepth: parseDuration(attrs.timeShiftBufferDepth),
    reps,
    utcTiming: ua ? { scheme: ua.schemeIdUri ?? "", value: ua.value ?? "" } : undefined,
  };
}

/** Segment URL of a representation's segment (relative to the MPD). */
export function segmentUrl(r: ParsedRepresentation, number: number): string {
  return r.media.replace("$Number$", String(number)).replace("$RepresentationID$", r.id);
}

/** Problems of one MPD (empty when it follows the rules). `now` in ms; lead/lag in seconds. */
export function checkMpd(m: ParsedMpd, now = Date.now(), opts: { lead?: number; lag?: number } = {}): string[] {
  const p: string[] = [];
  const a = m.attrs;
  if (a.type !== "dynamic") p.push(`type is ${a.type}, not dynamic`);
  if (!(a.profiles ?? "").includes("urn:mpeg:dash:profile:isoff-live:2011")) p.push(`profiles ${a.profiles} lack isoff-live`);
  if (!Number.isFinite(m.availabilityStartTime)) p.push("no availabilityStartTime");
  if (!Number.isFinite(m.publishTime)) p.push("no publishTime");
  if (!(m.minimumUpdatePeriod >= 0)) p.push("no minimumUpdatePeriod");
  if (!(m.timeShiftBufferDepth > 0)) p.push("no timeShiftBufferDepth");
  if (!(parseDuration(a.minBufferTime) >= 0)) p.push("no minBufferTime");
  if (m.reps.length === 0) p.push("no representation");
  for (const r of m.reps) {
    if (!r.media.includes("$Number$")) p.push(`${r.id}: media ${r.media} has no $Number$`);
    if (!r.initialization) p.push(`${r.id}: no initialization`);
    if (!r.codecs) p.push(`${r.id}: no codecs`);
    if (!(r.timescale > 0)) p.push(`${r.id}: timescale ${r.timescale}`);
    if (r.segments.length === 0) {
      p.push(`${r.id}: no segments`);
      continue;
    }
    const first = r.segments[0]!;
    const last = r.segments[r.segments.length - 1]!;
    const listed = (last.t + last.d - first.t) / r.timescale;
    if (m.timeShiftBufferDepth > listed + 0.5) p.push(`${r.id}: timeShiftBufferDepth ${m.timeShiftBufferDepth}s > listed ${listed.toFixed(3)}s`);
    const endAt = m.availabilityStartTime + ((last.t + last.d) / r.timescale) * 1000;
    const lead = opts.lead ?? 10;
    const lag = opts.lag ?? 15;
    if (endAt > now + lead * 1000) p.push(`${r.id}: newest segment ends ${((endAt - now) / 1000).toFixed(1)}s after the wall clock`);
    if (endAt < now - lag * 1000) p.push(`${r.id}: newest segment ends ${((now - endAt) / 1000).toFixed(1)}s before the wall clock`);
  }
  return p;
}

/** Problems between an MPD and its update. */
export function checkUpdate(prev: ParsedMpd, next: ParsedMpd): string[] {
  const p: string[] = [];
  if (prev.attrs.availabilityStartTime !== next.attrs.availabilityStartTime) {
    p.push(`availabilityStartTime changed ${prev.attrs.availabilityStartTime} -> ${next.attrs.availabilityStartTime}`);
  }
  if (next.publishTime < prev.publishTime) p.push("publishTime went back");
  for (const r of next.reps) {
    const o = prev.reps.find((x) => x.id === r.id);
    if (!o || !o.segments.length || !r.segments.length) continue;
    if (r.startNumber < o.startNumber) p.push(`${r.id}: startNumber went back ${o.startNumber} -> ${r.startNumber}`);
    const old = new Map(o.segments.map((s) => [s.number, s]));
    for (const s of r.segments) {
      const x = old.get(s.number);
      if (x && (x.t !== s.t || x.d !== s.d)) p.push(`${r.id}: segment ${s.number} changed (t ${x.t}->${s.t}, d ${x.d}->${s.d})`);
    }
    const oLast = o.segments[o.segments.length - 1]!;
    const newer = r.segments.filter((s) => s.number > oLast.number);
    if (newer.length && newer[0]!.number !== oLast.number + 1) {
      p.push(`${r.id}: numbers skip from ${oLast.number} to ${newer[0]!.number}`);
    }
    if (newer.length && newer[0]!.t < oLast.t + oLast.d) p.push(`${r.id}: segment ${newer[0]!.number} overlaps ${oLast.number}`);
  }
  return p;
}
