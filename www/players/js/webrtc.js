// WebRTC play and publish against srs-ts (or SRS): WHEP/WHIP (POST the SDP offer, 201 with the answer and a
// Location to DELETE at the end) or SRS's JSON API (/rtc/v1/play/, /rtc/v1/publish/ with a webrtc:// stream URL).

/**
 * The API endpoint and stream URL of a webrtc://host[:apiPort]/app/stream[?query] URL, as SRS's pages read it: the
 * port is the HTTP API's (1985 by default, 1990 when the page is https).
 */
export function parseWebrtcUrl(url, action) {
  const u = new URL(url.replace(/^webrtc:\/\//i, "http://"));
  if (!/^webrtc:\/\//i.test(url)) throw new Error("the URL must start with webrtc://");
  const https = location.protocol === "https:";
  const port = u.port || (https ? "1990" : "1985");
  const query = u.search;
  const api = `${https ? "https" : "http"}://${u.hostname.includes(":") ? `[${u.hostname}]` : u.hostname}:${port}/rtc/v1/${action}/${query}`;
  return { api, streamurl: url };
}

function tid() {
  return Math.floor(Math.random() * 0xfffffff).toString(16).padStart(7, "0").slice(0, 7);
}

function preferH264(transceiver) {
  const caps = globalThis.RTCRtpSender?.getCapabilities?.("video");
  if (!caps || !transceiver.setCodecPreferences) return;
  const h264 = caps.codecs.filter((c) => /h264/i.test(c.mimeType));
  const rest = caps.codecs.filter((c) => !/h264/i.test(c.mimeType));
  if (h264.length) transceiver.setCodecPreferences([...h264, ...rest]);
}

async function exchange(pc, protocol, url, action) {
  // The server is ICE-lite and learns the browser's addresses from its STUN checks: no need to wait for candidates.
  await pc.setLocalDescription(await pc.createOffer());
  const offer = pc.localDescription.sdp;
  let answer, location = null, session = "";
  if (protocol === "json") {
    const { api, streamurl } = parseWebrtcUrl(url, action);
    const res = await fetch(api, { method: "POST", body: JSON.stringify({ api, tid: tid(), streamurl, clientip: null, sdp: offer }) });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || body.code !== 0) throw new Error(`${api} answered ${res.ok ? `code ${body.code}` : `HTTP ${res.status}`}`);
    answer = body.sdp;
    session = body.sessionid || "";
  } else {
    const res = await fetch(url, { method: "POST", body: offer, headers: { "Content-Type": "application/sdp" } });
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) throw new Error(`${protocol.toUpperCase()} answered HTTP ${res.status}: ${text.split("\n")[0].slice(0, 200)}`);
    answer = text;
    const loc = res.headers.get("Location");
    location = loc ? new URL(loc, url).href : null;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return { location, session };
}

function stopper(pc, location) {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    pc.close();
    if (location) await fetch(location, { method: "DELETE" }).catch(() => {});
  };
}

/**
 * Plays a stream: protocol "whep" (url = the WHEP endpoint) or "json" (url = webrtc://…). Returns
 * { pc, stream (MediaStream of the received tracks), stop(), session }.
 */
export async function play(protocol, url) {
  const pc = new RTCPeerConnection();
  const stream = new MediaStream();
  pc.addEventListener("track", (e) => stream.addTrack(e.track));
  preferH264(pc.addTransceiver("video", { direction: "recvonly" }));
  pc.addTransceiver("audio", { direction: "recvonly" });
  try {
    const { location, session } = await exchange(pc, protocol, url, "play");
    return { pc, stream, session, stop: stopper(pc, location) };
  } catch (e) {
    pc.close();
    throw e;
  }
}

/** Publishes a MediaStream: protocol "whip" (url = WHIP endpoint) or "json" (url = webrtc://…). */
export async function publish(protocol, url, media) {
  const pc = new RTCPeerConnection();
  for (const track of media.getTracks()) {
    const t = pc.addTransceiver(track, { direction: "sendonly", streams: [media] });
    if (track.kind === "video") preferH264(t);
  }
  try {
    const { location, session } = await exchange(pc, protocol, url, "publish");
    return { pc, session, stop: stopper(pc, location) };
  } catch (e) {
    pc.close();
    throw e;
  }
}

/**
 * A snapshot of what getStats says, with rates since the previous call: { bitrate (kbps), fps, width, height,
 * rtt (ms), jitterBuffer (ms), frames, packetsLost }.
 */
export function statsReader(pc, direction) {
  let prev = null;
  return async () => {
    const out = { bitrate: NaN, fps: NaN, width: 0, height: 0, rtt: NaN, jitterBuffer: NaN, frames: 0, packetsLost: 0 };
    let bytes = 0, ts = 0;
    const report = await pc.getStats();
    report.forEach((s) => {
      if (s.type === (direction === "in" ? "inbound-rtp" : "outbound-rtp")) {
        bytes += (direction === "in" ? s.bytesReceived : s.bytesSent) || 0;
        ts = s.timestamp;
        if (s.kind === "video") {
          out.fps = s.framesPerSecond ?? NaN;
          out.width = s.frameWidth || 0;
          out.height = s.frameHeight || 0;
          out.frames = (direction === "in" ? s.framesDecoded : s.framesEncoded) || 0;
          if (s.jitterBufferEmittedCount) out.jitterBuffer = (s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000;
          out.packetsLost = s.packetsLost || 0;
        }
      }
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.currentRoundTripTime != null) out.rtt = s.currentRoundTripTime * 1000;
      if (s.type === "remote-inbound-rtp" && s.kind === "video" && s.roundTripTime != null && Number.isNaN(out.rtt)) out.rtt = s.roundTripTime * 1000;
    });
    if (prev && ts > prev.ts) out.bitrate = ((bytes - prev.bytes) * 8) / (ts - prev.ts);
    prev = { bytes, ts };
    return out;
  };
}
