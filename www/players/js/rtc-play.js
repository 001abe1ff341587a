// rtc_player.html (SRS's JSON API, webrtc:// URL) and whep.html (WHEP endpoint): plays a stream over WebRTC and shows
// what getStats measures. The page says which with <body data-protocol="json|whep">.
import { play, statsReader } from "./webrtc.js";
import { startVideo } from "./play.js";
import { $, autostart, kbps, ms, query, setState, showStats, size, target, webrtcUrl, whipUrl } from "./page.js";

const protocol = document.body.dataset.protocol;
const t = await target();
const video = $("video");
$("url").value = query.get("url") || (protocol === "whep" ? whipUrl(t, "whep") : webrtcUrl(t));
let session = null, timer = 0, read = null;

function share() {
  const q = new URLSearchParams({ autostart: "true", url: $("url").value });
  $("share").href = `${location.pathname}?${q}`;
}

async function stats() {
  const s = read ? await read() : null;
  const latency = s && Number.isFinite(s.jitterBuffer) ? s.jitterBuffer + (Number.isFinite(s.rtt) ? s.rtt / 2 : 0) : NaN;
  showStats({
    State: session ? session.pc.connectionState : "–",
    Resolution: size(s?.width ?? video.videoWidth, s?.height ?? video.videoHeight),
    Latency: ms(latency),
    Bitrate: kbps(s?.bitrate),
    FPS: s && Number.isFinite(s.fps) ? String(Math.round(s.fps)) : "–",
    RTT: ms(s?.rtt),
    "Packets lost": s ? String(s.packetsLost) : "–",
  });
}

async function stop() {
  clearInterval(timer);
  read = null;
  const s = session;
  session = null;
  video.srcObject = null;
  $("stop").disabled = true;
  await s?.stop();
  setState("Stopped");
  stats();
}

async function start() {
  await stop();
  share();
  setState("Connecting…");
  $("detail").textContent = "";
  $("stop").disabled = false;
  try {
    session = await play(protocol, $("url").value.trim());
    read = statsReader(session.pc, "in");
    session.pc.addEventListener("connectionstatechange", () => {
      const st = session?.pc.connectionState;
      if (st === "failed" || st === "disconnected") setState(`Connection ${st}`, "bad");
    });
    video.srcObject = session.stream;
    if (await startVideo(video)) $("detail").textContent = "Muted: the browser needs a click before it plays sound.";
    if (session.session) $("detail").textContent += ` Session ${session.session}.`;
    timer = setInterval(stats, 1000);
  } catch (e) {
    setState("Error", "bad");
    $("detail").textContent = e.message;
    $("stop").disabled = true;
  }
}

video.addEventListener("playing", () => setState("Playing", "ok"));
$("form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
$("stop").addEventListener("click", stop);
addEventListener("pagehide", () => session?.stop());
share();
stats();
if (autostart) start();
