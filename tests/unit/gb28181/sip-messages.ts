/**
 * Real-looking GB28181 SIP messages (the shapes IP cameras send, identifiers of the GB/T 28181 examples), used
 * by the SIP table and fuzz tests. Content-Length is computed.
 */

export const CAMERA = "34020000001320000001";
export const SERVER = "34020000002000000001";
export const DOMAIN = "3402000000";

export function withBody(head: string[], body = ""): string {
  return [...head, `Content-Length: ${Buffer.byteLength(body)}`, "", body].join("\r\n");
}

export const KEEPALIVE_XML = [
  `<?xml version="1.0" encoding="GB2312"?>`, "<Notify>", "<CmdType>Keepalive</CmdType>", "<SN>43</SN>",
  `<DeviceID>${CAMERA}</DeviceID>`, "<Status>OK</Status>", "<Info>", "</Info>", "</Notify>", "",
].join("\r\n");

export const DEVICE_SDP = [
  "v=0", `o=${CAMERA} 0 0 IN IP4 192.168.1.64`, "s=Play", "c=IN IP4 192.168.1.64", "t=0 0",
  "m=video 15060 TCP/RTP/AVP 96", "a=sendonly", "a=rtpmap:96 PS/90000", "a=setup:active", "a=connection:new",
  "y=0200000001", "f=v/2/4/25/1/4096a/1/8/1", "",
].join("\r\n");

export const MESSAGES: Record<string, string> = {
  register: withBody([
    `REGISTER sip:${SERVER}@${DOMAIN} SIP/2.0`,
    "Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273",
    `From: <sip:${CAMERA}@${DOMAIN}>;tag=2043466181`,
    `To: <sip:${CAMERA}@${DOMAIN}>`,
    "Call-ID: 1011047669",
    "CSeq: 1 REGISTER",
    `Contact: <sip:${CAMERA}@192.168.1.64:5060>`,
    "Max-Forwards: 70",
    "User-Agent: IP Camera",
    "Expires: 3600",
  ]),
  registerAuth: withBody([
    `REGISTER sip:${SERVER}@${DOMAIN} SIP/2.0`,
    "Via: SIP/2.0/TCP 192.168.1.64:5060;rport;branch=z9hG4bK1899512047",
    `From: <sip:${CAMERA}@${DOMAIN}>;tag=2043466181`,
    `To: <sip:${CAMERA}@${DOMAIN}>`,
    "Call-ID: 1011047669",
    "CSeq: 2 REGISTER",
    `Contact: <sip:${CAMERA}@192.168.1.64:5060>`,
    `Authorization: Digest username="${CAMERA}", realm="${DOMAIN}", nonce="44010b73623249f6916a6acf7c316b8e", ` +
      `uri="sip:${SERVER}@${DOMAIN}", response="9625d92d1bddea7a911926e0db054968", algorithm=MD5`,
    "Max-Forwards: 70",
    "User-Agent: IP Camera",
    "Expires: 3600",
  ]),
  keepalive: withBody([
    `MESSAGE sip:${SERVER}@${DOMAIN} SIP/2.0`,
    "Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1066375804",
    `From: <sip:${CAMERA}@${DOMAIN}>;tag=1925919231`,
    `To: <sip:${SERVER}@${DOMAIN}>`,
    "Call-ID: 1185236415",
    "CSeq: 20 MESSAGE",
    "Content-Type: Application/MANSCDP+xml",
    "Max-Forwards: 70",
    "User-Agent: IP Camera",
  ], KEEPALIVE_XML),
  inviteOk: withBody([
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/TCP 192.168.1.10:5060;rport=5060;branch=z9hG4bKsrs3f7a1c;received=192.168.1.10",
    `From: <sip:${SERVER}@${DOMAIN}>;tag=SRSa8b3c9d1`,
    `To: <sip:${CAMERA}@${DOMAIN}>;tag=1418413431`,
    "Call-ID: 8f3c1a9e2b7d4c60",
    "CSeq: 7 INVITE",
    `Contact: <sip:${CAMERA}@192.168.1.64:5060>`,
    "Content-Type: application/sdp",
    "User-Agent: IP Camera",
  ], DEVICE_SDP),
  trying: withBody([
    "SIP/2.0 100 Trying",
    "Via: SIP/2.0/TCP 192.168.1.10:5060;rport=5060;branch=z9hG4bKsrs3f7a1c",
    `From: <sip:${SERVER}@${DOMAIN}>;tag=SRSa8b3c9d1`,
    `To: <sip:${CAMERA}@${DOMAIN}>`,
    "Call-ID: 8f3c1a9e2b7d4c60",
    "CSeq: 7 INVITE",
    "User-Agent: IP Camera",
  ]),
  bye: withBody([
    `BYE sip:${SERVER}@192.168.1.10:5060 SIP/2.0`,
    "Via: SIP/2.0/TCP 192.168.1.64:5060;rport;branch=z9hG4bK704432114",
    `From: <sip:${CAMERA}@${DOMAIN}>;tag=1418413431`,
    `To: <sip:${SERVER}@${DOMAIN}>;tag=SRSa8b3c9d1`,
    "Call-ID: 8f3c1a9e2b7d4c60",
    "CSeq: 8 BYE",
    "Max-Forwards: 70",
  ]),
};

/** The register message with compact header names (RFC 3261 7.3.3) and odd spacing/case. */
export const REGISTER_COMPACT = withBody([
  `REGISTER sip:${SERVER}@${DOMAIN} SIP/2.0`,
  "v:SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273",
  `f:   <sip:${CAMERA}@${DOMAIN}>;tag=2043466181`,
  `t: <sip:${CAMERA}@${DOMAIN}>`,
  "i: 1011047669",
  "cseq: 1 REGISTER",
  `m: <sip:${CAMERA}@192.168.1.64:5060>`,
  "max-forwards: 70",
  "USER-AGENT: IP Camera",
  "expires: 3600",
]).replace("Content-Length: 0", "l: 0");
