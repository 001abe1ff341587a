/**
 * SIP parser/serializer (RFC 3261) over real-looking GB28181 messages: start lines, headers (case, compact forms,
 * multiple Via, folding), Content-Length framing on datagrams and streams (split and merged chunks, CRLF
 * keepalives), required headers, limits, responses built from requests, INVITE/ACK/BYE building.
 */
import { describe, expect, test } from "bun:test";
import { createAck, createBye, createRequest, createResponse, newBranch, newCallId, newTag } from "../../../lib/protocols/gb28181/sip-build.ts";
import { parseSipDatagram, serializeSip, SipError, type SipMessage, type SipRequest, type SipResponse } from "../../../lib/protocols/gb28181/sip-message.ts";
import { parseCSeq, parseNameAddr, parseSipUri, parseVia } from "../../../lib/protocols/gb28181/sip-values.ts";
import { SipStreamParser } from "../../../lib/protocols/gb28181/sip-stream.ts";
import { prng } from "../../helpers/prng.ts";
import { CAMERA, DEVICE_SDP, DOMAIN, KEEPALIVE_XML, MESSAGES, REGISTER_COMPACT, SERVER, withBody } from "./sip-messages.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function summary(m: SipMessage): string {
  const start = m.type === "request" ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`;
  return `${start} | ${[...m.headers].map(([n, v]) => `${n}=${v}`).join(" | ")} | ${text(m.body)}`;
}

describe("parsing", () => {
  test("the GB28181 message table: start lines, headers, bodies", () => {
    const reg = parseSipDatagram(enc(MESSAGES.register!)) as SipRequest;
    expect(reg.type).toBe("request");
    expect(reg.method).toBe("REGISTER");
    expect(reg.uri).toBe(`sip:${SERVER}@${DOMAIN}`);
    expect(reg.headers.get("expires")).toBe("3600");
    expect(reg.headers.get("CALL-ID")).toBe("1011047669");
    expect(reg.body.length).toBe(0);
    expect(parseSipUri(parseNameAddr(reg.headers.get("From")!)!.uri)).toMatchObject({ user: CAMERA, host: DOMAIN });
    expect(parseNameAddr(reg.headers.get("From")!)!.params.get("tag")).toBe("2043466181");
    expect(parseNameAddr(reg.headers.get("Contact")!)!.uri).toBe(`sip:${CAMERA}@192.168.1.64:5060`);

    const auth = parseSipDatagram(enc(MESSAGES.registerAuth!));
    expect(auth.headers.get("Authorization")).toContain(`response="9625d92d1bddea7a911926e0db054968"`);
    expect(parseVia(auth.headers.get("Via")!)).toMatchObject({ transport: "TCP", host: "192.168.1.64", port: 5060 });

    const ka = parseSipDatagram(enc(MESSAGES.keepalive!)) as SipRequest;
    expect(ka.method).toBe("MESSAGE");
    expect(ka.headers.get("Content-Type")).toBe("Application/MANSCDP+xml");
    expect(text(ka.body)).toBe(KEEPALIVE_XML);

    const ok = parseSipDatagram(enc(MESSAGES.inviteOk!)) as SipResponse;
    expect(ok.type).toBe("response");
    expect(ok.status).toBe(200);
    expect(ok.reason).toBe("OK");
    expect(parseCSeq(ok.headers.get("CSeq")!)).toEqual({ seq: 7, method: "INVITE" });
    expect(text(ok.body)).toBe(DEVICE_SDP);
    const via = parseVia(ok.headers.get("Via")!)!;
    expect(via.params.get("rport")).toBe("5060");
    expect(via.params.get("received")).toBe("192.168.1.10");

    expect((parseSipDatagram(enc(MESSAGES.trying!)) as SipResponse).status).toBe(100);
    expect((parseSipDatagram(enc(MESSAGES.bye!)) as SipRequest).method).toBe("BYE");
  });

  test("compact header forms and any case read as the long names", () => {
    const a = parseSipDatagram(enc(REGISTER_COMPACT));
    const b = parseSipDatagram(enc(MESSAGES.register!));
    expect(summary(a)).toBe(summary(b)); // known names are stored in their canonical spelling
    expect(a.headers.get("Via")).toBe(b.headers.get("Via"));
    expect(a.headers.get("f")).toBe(b.headers.get("From"));
    expect(a.headers.get("Content-Length")).toBe("0");
  });

  test("several Via: one per line or comma-separated, in order; folded lines join", () => {
    const msg = withBody([
      `MESSAGE sip:${SERVER}@${DOMAIN} SIP/2.0`,
      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKb",
      "Via: SIP/2.0/UDP 10.0.0.3:5060",
      "\t;branch=z9hG4bKc",
      `From: "Cam, lobby" <sip:${CAMERA}@${DOMAIN}>;tag=1`,
      `To: <sip:${SERVER}@${DOMAIN}>`,
      "Call-ID: x",
      "CSeq: 3 MESSAGE",
    ]);
    const m = parseSipDatagram(enc(msg)) as SipRequest;
    expect(m.headers.list("Via").map((v) => parseVia(v)!.params.get("branch"))).toEqual(["z9hG4bKa", "z9hG4bKb", "z9hG4bKc"]);
    expect(m.headers.list("From")).toHaveLength(1); // the comma is inside quotes
    expect(parseNameAddr(m.headers.get("From")!)!.display).toBe("Cam, lobby");
    const r = createResponse(m, 200);
    expect(r.headers.getAll("Via")).toEqual(m.headers.getAll("Via"));
  });

  test("a datagram without Content-Length takes the rest as body; extra bytes past Content-Length are dropped", () => {
    const noLength = MESSAGES.keepalive!.replace(/Content-Length: \d+\r\n/, "");
    expect(text(parseSipDatagram(enc(noLength)).body)).toBe(KEEPALIVE_XML);
    expect(text(parseSipDatagram(enc(MESSAGES.keepalive + "junk")).body)).toBe(KEEPALIVE_XML);
    expect(() => parseSipDatagram(enc(MESSAGES.keepalive!.slice(0, -10)))).toThrow(/Content-Length \d+ but \d+ bytes/);
  });

  test("header text is UTF-8 (RFC 3261 25.1): a display name survives parse -> serialize -> parse", () => {
    const m = MESSAGES.register!.replace(`From: <sip:`, `From: "大门摄像机" <sip:`);
    const a = parseSipDatagram(enc(m));
    expect(parseNameAddr(a.headers.get("From")!)!.display).toBe("大门摄像机");
    expect(text(serializeSip(a))).toBe(m);
  });

  test("bare LF line ends and leading CRLF keepalives are accepted", () => {
    const lf = MESSAGES.register!.replace(/\r\n/g, "\n");
    expect(summary(parseSipDatagram(enc(`\r\n\r\n${lf}`)))).toBe(summary(parseSipDatagram(enc(MESSAGES.register!))));
  });
});

describe("bad messages", () => {
  for (const h of ["Via", "From", "To", "Call-ID", "CSeq"]) {
    test(`missing ${h} is a SipError naming it`, () => {
      const m = MESSAGES.register!.split("\r\n").filter((l) => !l.startsWith(`${h}:`)).join("\r\n");
      expect(() => parseSipDatagram(enc(m))).toThrow(new RegExp(`REGISTER without ${h}`));
    });
  }

  test("malformed start lines, header lines, CSeq and Content-Length", () => {
    const cases: [string, RegExp][] = [
      [MESSAGES.register!.replace("SIP/2.0\r\n", "SIP/3.0\r\n"), /bad request line/],
      [MESSAGES.trying!.replace("100 Trying", "1000 Trying"), /bad status line/],
      [MESSAGES.register!.replace("Max-Forwards: 70", "Max-Forwards 70"), /header line without a name/],
      [MESSAGES.register!.replace("CSeq: 1 REGISTER", "CSeq: 1 INVITE"), /REGISTER with CSeq method INVITE/],
      [MESSAGES.register!.replace("CSeq: 1 REGISTER", "CSeq: one REGISTER"), /bad CSeq/],
      [MESSAGES.register!.replace("Content-Length: 0", "Content-Length: -1"), /bad Content-Length/],
      [MESSAGES.register!.replace("Content-Length: 0", "Content-Length: 99999999"), /body of 99999999 bytes over the 65536-byte limit/],
      [`\t${MESSAGES.register}`, /bad request line/],
    ];
    for (const [m, re] of cases) {
      expect(() => parseSipDatagram(enc(m))).toThrow(re);
      expect(() => new SipStreamParser().push(enc(m))).toThrow(SipError);
    }
  });

  test("a header block over 16 KiB is refused, on a datagram and on a stream before buffering more", () => {
    const big = MESSAGES.register!.replace("User-Agent: IP Camera", `User-Agent: ${"x".repeat(17 * 1024)}`);
    expect(() => parseSipDatagram(enc(big))).toThrow(/header block over 16384 bytes/);
    const p = new SipStreamParser();
    const b = enc(big);
    let err: unknown;
    let maxBuffered = 0;
    try {
      for (let o = 0; o < b.length; o += 1000) {
        p.push(b.subarray(o, o + 1000));
        maxBuffered = Math.max(maxBuffered, p.buffered);
      }
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SipError);
    expect(maxBuffered).toBeLessThanOrEqual(16 * 1024 + 1000);
    expect(p.buffered).toBe(0);
    expect(() => p.push(enc(MESSAGES.register!))).toThrow(SipError); // the stream is done
  });

  test("more than 100 headers is refused", () => {
    const m = MESSAGES.register!.replace("Expires: 3600", Array.from({ length: 120 }, (_, i) => `X-H${i}: ${i}`).join("\r\n"));
    expect(() => parseSipDatagram(enc(m))).toThrow(/more than 100 headers/);
  });

  test("a huge declared body is refused as soon as the headers are in (the bytes are never awaited)", () => {
    const m = MESSAGES.keepalive!.replace(/Content-Length: \d+/, "Content-Length: 10000000");
    const p = new SipStreamParser();
    expect(() => p.push(enc(m.slice(0, m.indexOf("\r\n\r\n") + 4)))).toThrow(/body of 10000000 bytes over the 65536-byte limit/);
  });

  test("on a stream a message without Content-Length is an error (RFC 3261 18.3)", () => {
    const m = MESSAGES.keepalive!.replace(/Content-Length: \d+\r\n/, "");
    expect(() => new SipStreamParser().push(enc(m))).toThrow(/MESSAGE without Content-Length on a stream/);
  });
});

describe("TCP streams", () => {
  const all = Object.values(MESSAGES);
  const wire = enc(all.join("\r\n\r\n")); // keepalive CRLFs between messages (RFC 5626 3.5.1)
  const want = all.map((m) => summary(parseSipDatagram(enc(m))));

  test("several messages in one chunk", () => {
    expect(new SipStreamParser().push(wire).map(summary)).toEqual(want);
  });

  for (const max of [1, 3, 17, 200, 5000]) {
    test(`one message over many chunks: random chunks of 1..${max} bytes`, () => {
      const rnd = prng(max);
      const p = new SipStreamParser();
      const got: SipMessage[] = [];
      for (let o = 0; o < wire.length;) {
        const n = 1 + Math.floor(rnd() * max);
        got.push(...p.push(wire.subarray(o, o + n)));
        o += n;
      }
      expect(got.map(summary)).toEqual(want);
      expect(p.buffered).toBe(0);
    });
  }
});

describe("building", () => {
  test("serialize -> parse gives the same message; Content-Length set from the body", () => {
    for (const m of Object.values(MESSAGES)) {
      const a = parseSipDatagram(enc(m));
      const wire = serializeSip(a);
      expect(summary(parseSipDatagram(wire))).toBe(summary(a));
      expect(text(wire)).toBe(m); // canonical input: byte-exact
    }
  });

  test("responses copy Via/From/To/Call-ID/CSeq and add a To tag (not on 100, not twice)", () => {
    const reg = parseSipDatagram(enc(MESSAGES.register!)) as SipRequest;
    const r = createResponse(reg, 200, { toTag: "abc", headers: [["Expires", "3600"], ["Date", "2026-12-05T19:00:00.000"]] });
    const back = parseSipDatagram(serializeSip(r)) as SipResponse;
    expect(back.status).toBe(200);
    expect(back.reason).toBe("OK");
    expect(back.headers.get("To")).toBe(`<sip:${CAMERA}@${DOMAIN}>;tag=abc`);
    for (const h of ["Via", "From", "Call-ID", "CSeq"]) expect(back.headers.get(h)).toBe(reg.headers.get(h));
    expect(back.headers.get("Expires")).toBe("3600");
    expect(createResponse(reg, 100).headers.get("To")).toBe(reg.headers.get("To"));
    const bye = parseSipDatagram(enc(MESSAGES.bye!)) as SipRequest;
    expect(createResponse(bye, 200).headers.get("To")).toBe(bye.headers.get("To"));
    const ka = parseSipDatagram(enc(MESSAGES.keepalive!)) as SipRequest;
    expect(createResponse(ka, 403).reason).toBe("Forbidden");
  });

  test("INVITE with SDP, the device's 200, our ACK and BYE make one dialog", () => {
    const via = { transport: "TCP" as const, host: "192.168.1.10", port: 5060 };
    const invite = createRequest({
      method: "INVITE", uri: `sip:${CAMERA}@${DOMAIN}`, via, from: { uri: `sip:${SERVER}@${DOMAIN}`, tag: newTag() },
      to: { uri: `sip:${CAMERA}@${DOMAIN}` }, callId: newCallId(), cseq: 7, contact: `sip:${SERVER}@192.168.1.10:5060`,
      headers: [["Subject", `${CAMERA}:0200000001,${SERVER}:0`]], body: "v=0\r\n", contentType: "APPLICATION/SDP",
    });
    const wire = parseSipDatagram(serializeSip(invite)) as SipRequest;
    expect(wire.method).toBe("INVITE");
    expect(wire.headers.get("CSeq")).toBe("7 INVITE");
    expect(wire.headers.get("Content-Type")).toBe("APPLICATION/SDP");
    expect(parseVia(wire.headers.get("Via")!)!.params.get("branch")).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(wire.headers.get("Max-Forwards")).toBe("70");

    // the device answers (To gets its tag)
    const ok = createResponse(wire, 200, { toTag: "1418413431", body: DEVICE_SDP, contentType: "application/sdp", headers: [["Contact", `<sip:${CAMERA}@192.168.1.64:5060>`]] });
    const ack = parseSipDatagram(serializeSip(createAck(invite, ok, via))) as SipRequest;
    expect(ack.method).toBe("ACK");
    expect(ack.uri).toBe(`sip:${CAMERA}@192.168.1.64:5060`);
    expect(ack.headers.get("CSeq")).toBe("7 ACK");
    expect(ack.headers.get("To")).toContain("tag=1418413431");
    expect(ack.headers.get("Call-ID")).toBe(invite.headers.get("Call-ID")!);
    const bye = parseSipDatagram(serializeSip(createBye(invite, ok, via, 8))) as SipRequest;
    expect(bye.method).toBe("BYE");
    expect(bye.headers.get("CSeq")).toBe("8 BYE");
    expect(bye.headers.get("From")).toBe(invite.headers.get("From")!);
    expect(newBranch()).not.toBe(newBranch());
  });

  test("a header value with a line break cannot be serialized (no header injection)", () => {
    const reg = parseSipDatagram(enc(MESSAGES.register!)) as SipRequest;
    const r = createResponse(reg, 200, { headers: [["X", "a\r\nVia: evil"]] });
    expect(() => serializeSip(r)).toThrow(SipError);
  });
});

describe("fuzz", () => {
  test("2000 mutated messages: parse returns or throws SipError, never anything else; streams stay bounded", () => {
    const rnd = prng(3261);
    const sources = [...Object.values(MESSAGES), REGISTER_COMPACT].map(enc);
    let parsed = 0;
    for (let i = 0; i < 2000; i++) {
      const src = sources[Math.floor(rnd() * sources.length)]!;
      let b = Uint8Array.from(src);
      const ops = 1 + Math.floor(rnd() * 8);
      for (let k = 0; k < ops; k++) {
        const at = Math.floor(rnd() * b.length);
        const r = rnd();
        if (r < 0.4) b[at] = [0x0d, 0x0a, 0x3a, 0x20, 0x2c, 0x3c, 0x3e, 0x22, 0x30, 0x39][Math.floor(rnd() * 10)]!;
        else if (r < 0.6) b[at] = Math.floor(rnd() * 256);
        else if (r < 0.8) b = b.subarray(0, at); // truncation
        else b = Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(rnd() * b.length))]);
      }
      try {
        parseSipDatagram(b);
        parsed++;
      } catch (e) {
        expect(e).toBeInstanceOf(SipError);
      }
      const p = new SipStreamParser();
      try {
        for (let o = 0; o < b.length; o += 64) p.push(b.subarray(o, o + 64));
      } catch (e) {
        expect(e).toBeInstanceOf(SipError);
      }
      expect(p.buffered).toBeLessThanOrEqual(16 * 1024 + 64 * 1024 + 64);
    }
    expect(parsed).toBeGreaterThan(100);
  });
});
