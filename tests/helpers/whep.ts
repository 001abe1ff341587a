/**
 * A WHEP viewer for e2e tests: werift in the test process (no browser: cheaper), loopback candidates only.
 */
import { RTCPeerConnection, RTCRtpCodecParameters } from "werift";

/**
 * A werift peer connection for a WHEP viewer on loopback: no ICE servers, the loopback host candidate, H.264
 * (constrained baseline, NACK/PLI) and Opus. Also used by bench/rtc-viewers.ts.
 */
export function loopbackPeerConnection(opts: { tcp?: boolean } = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ["127.0.0.1"],
    iceUseIpv6: false,
    // `tcp`: also active TCP candidates (ICE-TCP, RFC 6544): with a server offering TCP only, the pair is TCP.
    ...(opts.tcp ? { iceUseTcp: true } : {}),
    // werift also gathers the machine's other interfaces (eth0, test-made veths), and the server advertises its
    // own: check and nominate only the loopback pair on both ends, so the pair the server (ICE-lite, first
    // nomination wins) locks on is the one we use, and never a veth another test's netns removes mid-session.
    iceFilterCandidatePair: (pair) => {
      const p = pair.protocol as { localCandidate?: { host: string } };
      return p.localCandidate?.host === "127.0.0.1" && pair.remoteCandidate?.host === "127.0.0.1";
    },
    bundlePolicy: "max-bundle",
    codecs: {
      video: [new RTCRtpCodecParameters({
        mimeType: "video/H264",
        clockRate: 90000,
        rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }],
        parameters: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
      })],
      audio: [new RTCRtpCodecParameters({ mimeType: "audio/opus", clockRate: 48000, channels: 2 })],
    },
  });
}

/** A WHEP viewer (werift, loopback only): counts the video RTP packets it receives. */
export async function whepViewer(api: number, stream: string, query = ""): Promise<{ pc: RTCPeerConnection; packets: () => number }> {
  const pc = loopbackPeerConnection();
  let packets = 0;
  pc.addTransceiver("video", { direction: "recvonly" }).onTrack.subscribe((t) => t.onReceiveRtp.subscribe(() => void packets++));
  pc.addTransceiver("audio", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  const res = await fetch(`http://127.0.0.1:${api}/rtc/v1/whep/?app=live&stream=${stream}${query}`, {
    method: "POST",
    body: pc.localDescription!.sdp,
    headers: { "Content-Type": "application/sdp" },
  });
  const answer = await res.text();
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${answer.slice(0, 200)}`);
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  return { pc, packets: () => packets };
}
