// rtc_publisher.html (SRS's JSON API, webrtc:// URL) and whip.html (WHIP endpoint): publishes the camera and
// microphone over WebRTC (H.264 preferred: the server takes H.264 and Opus). <body data-protocol="json|whip">.
import { publish, statsReader } from "./webrtc.js";
import { $, autostart, kbps, ms, query, setState, showStats, size, target, webrtcUrl, whipUrl } from "./page.js";
import { streamUrls } from "/site.js";

const protocol = document.body.dataset.protocol;
const t = await target();
const video = $("video");
$("url").value = query.get("url") || (protocol === "whip" ? whipUrl(t, "whip") : webrtcUrl(t));
let session = null, media = null, timer = 0, read = null;

/** app and stream of the URL being published, for the play links. */
function appStream(url) {
  try {
    if (url.startsWith("webrtc://")) {
      const [, app, ...rest] = new URL(url.replace(/^webrtc:/, "http:")).pathname.split("/");
      return { app, stream: rest.join("/") };
    }
    const q = new URL(url).searchParams;
    return { app: q.get("app") || "live", stream: q.get("stream") || "livestream" };
  } catch {
    return { app: t.app, stream: t.stream };
  }
}

function links() {
  const u = streamUrls(t.cfg, { ...appStream($("url").value), vhost: t.vhost || undefined });
  $("links").replaceChildren(...[["HTTP-FLV", u.players.flv], ["HLS", u.players.hls], ["WebRTC", u.players.rtc], ["WHEP", u.players.whep]]
    .map(([label, href]) => Object.assign(document.createElement("a"), { className: "button", href, target: "_blank", rel: "noopener", textContent: `Play ${label}` })));
  const q = new URLSearchParams({ autostart: "true", url: $("url").value });
  $("share").href = `${location.pathname}?${q}`;
}

async function stats() {
  const s = read ? await read() : null;
  showStats({
    State: session ? session.pc.connectionState : "–",
    Resolution: size(s?.width, s?.height),
    Bitrate: kbps(s?.bitrate),
    FPS: s && Number.isFinite(s.fps) ? String(Math.round(s.fps)) : "–",
    RTT: ms(s?.rtt),
    Frames: s ? String(s.frames) : "–",
  });
}

async function stop() {
  clearInterval(timer);
  read = null;
  const s = session;
  session = null;
  $("stop").disabled = true;
  await s?.stop();
  for (const track of media?.getTracks() ?? []) track.stop();
  media = null;
  video.srcObject = null;
  setState("Stopped");
  stats();
}

async function start() {
  await stop();
  links();
  setState("Opening the camera…");
  $("detail").textContent = "";
  $("stop").disabled = false;
  try {
    const [w, h] = $("size").value.split("x").map(Number);
    media = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: w }, height: { ideal: h } },
      audio: $("audio").checked,
    });
    video.srcObject = media;
    video.play().catch(() => {});
    setState("Connecting…");
    session = await publish(protocol, $("url").value.trim(), media);
    read = statsReader(session.pc, "out");
    const onState = () => {
      const st = session?.pc.connectionState;
      if (st === "connected") setState("Publishing", "ok");
      else if (st === "failed" || st === "disconnected") setState(`Connection ${st}`, "bad");
    };
    session.pc.addEventListener("connectionstatechange", onState);
    onState();
    timer = setInterval(stats, 1000);
  } catch (e) {
    setState("Error", "bad");
    $("detail").textContent = e.name === "NotAllowedError" ? "The browser refused the camera (it needs https, or http on localhost)." : e.message;
    await stop().catch(() => {});
    setState("Error", "bad");
  }
}

$("form").addEventListener("submit", (e) => { e.preventDefault(); start(); });
$("stop").addEventListener("click", stop);
$("url").addEventListener("input", links);
addEventListener("pagehide", () => session?.stop());
if (!navigator.mediaDevices?.getUserMedia) $("detail").textContent = "This page needs https (or http://localhost) for the camera.";
links();
stats();
if (autostart) start();
