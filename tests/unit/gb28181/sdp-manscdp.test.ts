/**
 * GB28181 SDP (y=, f=, TCP setup/connection, PS rtpmap) and MANSCDP XML (Keepalive, Catalog in GB2312) readers and
 * writers, with their limits and a fuzz of both.
 */
import { describe, expect, test } from "bun:test";
import { ManscdpError, parseManscdp, parseXml, writeManscdp } from "../../../lib/protocols/gb28181/manscdp.ts";
import { gbPlayOffer, gbSsrc, parseGbSdp, SdpError, writeGbSdp } from "../../../lib/protocols/gb28181/sdp.ts";
import { prng } from "../../helpers/prng.ts";
import { CAMERA, DEVICE_SDP, KEEPALIVE_XML, SERVER } from "./sip-messages.ts";

describe("SDP", () => {
  test("the device's answer: TCP active, PS/90000, y= and f=", () => {
    const s = parseGbSdp(DEVICE_SDP);
    expect(s.origin.username).toBe(CAMERA);
    expect(s.address).toBe("192.168.1.64");
    expect(s.sessionName).toBe("Play");
    expect(s.ssrc).toBe("0200000001");
    expect(s.f).toBe("v/2/4/25/1/4096a/1/8/1");
    expect(s.media).toHaveLength(1);
    expect(s.media[0]).toMatchObject({
      kind: "video", port: 15060, proto: "TCP/RTP/AVP", direction: "sendonly", setup: "active", connection: "new",
      formats: [{ payloadType: 96, name: "PS", clockRate: 90000 }],
    });
    expect(writeGbSdp(s)).toBe(DEVICE_SDP);
  });

  test("our offer: recvonly, TCP passive (or UDP), written and read back", () => {
    const ssrc = gbSsrc({ history: false, domainId: SERVER, index: 1 });
    expect(ssrc).toBe("0200000001");
    const text = writeGbSdp(gbPlayOffer({ serverId: SERVER, address: "192.168.1.10", port: 9000, tcp: true, ssrc }));
    expect(text).toContain("m=video 9000 TCP/RTP/AVP 96 98\r\na=recvonly\r\na=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\na=setup:passive\r\na=connection:new\r\ny=0200000001\r\n");
    const back = parseGbSdp(text);
    expect(back.media[0]!.setup).toBe("passive");
    expect(back.ssrc).toBe(ssrc);
    const udp = parseGbSdp(writeGbSdp(gbPlayOffer({ serverId: SERVER, address: "10.0.0.1", port: 9000, tcp: false, ssrc })));
    expect(udp.media[0]!.proto).toBe("RTP/AVP");
    expect(udp.media[0]!.setup).toBeUndefined();
    expect(gbSsrc({ history: true, domainId: "3402000000", index: 12345 })).toBe("1200002345");
  });

  test("malformed SDP is an SdpError saying what", () => {
    const cases: [string, RegExp][] = [
      ["v=0\r\ns=Play\r\n", /no m= line/],
      [DEVICE_SDP.replace("y=0200000001", "y=02x"), /bad y= SSRC/],
      [DEVICE_SDP.replace("m=video 15060", "m=video 99999"), /bad m= line/],
      [DEVICE_SDP.replace("a=rtpmap:96 PS/90000", "a=rtpmap:PS"), /bad rtpmap/],
      [DEVICE_SDP.replace("v=0", "v=1"), /version 1/],
      [DEVICE_SDP + "garbage\r\n", /bad line/],
      [Array.from({ length: 300 }, () => "a=x").join("\r\n"), /more than 200 lines/],
    ];
    for (const [t, re] of cases) expect(() => parseGbSdp(t)).toThrow(re);
  });
});

describe("MANSCDP", () => {
  test("Keepalive notify (GB2312 declared)", () => {
    const m = parseManscdp(new TextEncoder().encode(KEEPALIVE_XML));
    expect(m).toMatchObject({ root: "Notify", cmdType: "Keepalive", sn: 43, deviceId: CAMERA });
    expect(m.fields.get("Status")).toBe("OK");
  });

  test("Catalog response in GB2312 with Chinese names, entities and items", () => {
    const xml = `<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n<SN>17430</SN>\r\n` +
      `<DeviceID>${CAMERA}</DeviceID>\r\n<SumNum>2</SumNum>\r\n<DeviceList Num="2">\r\n` +
      `<Item><DeviceID>34020000001320000001</DeviceID><Name>大门 &amp; 车库</Name><Status>ON</Status></Item>\r\n` +
      `<Item><DeviceID>34020000001320000002</DeviceID><Name><![CDATA[后门<2>]]></Name><Status>OFF</Status></Item>\r\n` +
      `</DeviceList>\r\n<!-- a comment -->\r\n</Response>\r\n`;
    // encode as GB18030 (a superset of GB2312): the two-byte forms of the Chinese characters
    const gb = gb18030Encode(xml);
    const m = parseManscdp(gb);
    expect(m).toMatchObject({ root: "Response", cmdType: "Catalog", sn: 17430, deviceId: CAMERA });
    expect(m.fields.get("SumNum")).toBe("2");
    expect(m.items.map((i) => [i.get("DeviceID"), i.get("Name"), i.get("Status")])).toEqual([
      ["34020000001320000001", "大门 & 车库", "ON"],
      ["34020000001320000002", "后门<2>", "OFF"],
    ]);
  });

  test("written documents read back; values are escaped", () => {
    const x = writeManscdp({ root: "Query", cmdType: "Catalog", sn: 5, deviceId: CAMERA, fields: [["Note", "a<b & \"c\""]] });
    const m = parseManscdp(x);
    expect(m).toMatchObject({ root: "Query", cmdType: "Catalog", sn: 5, deviceId: CAMERA });
    expect(m.fields.get("Note")).toBe("a<b & \"c\"");
  });

  test("bad documents are a ManscdpError saying what", () => {
    const cases: [string, RegExp][] = [
      ["<Notify><SN>1</SN><DeviceID>x</DeviceID></Notify>", /without CmdType/],
      ["<Notify><CmdType>Keepalive</CmdType><SN>x</SN><DeviceID>1</DeviceID></Notify>", /SN "x"/],
      ["<Notify><CmdType>Keepalive</CmdType><SN>1</SN></Notify>", /without DeviceID/],
      ["<Notify><CmdType>Keepalive</Cmd></Notify>", /<\/Cmd> closes <CmdType>/],
      ["<Notify><CmdType>Keepalive</CmdType>", /not closed/],
      ["<!DOCTYPE x [<!ENTITY a \"b\">]><Notify/>", /DTDs are not accepted/],
      ["<a/><b/>", /more than one root/],
      ["<".repeat(3), /unterminated tag|bad tag/],
      [`${"<a>".repeat(20)}${"</a>".repeat(20)}`, /nesting deeper than 16/],
      [`<r>${"<i/>".repeat(5000)}</r>`, /more than 4096 elements/],
      [`<r>${"x".repeat(70000)}</r>`, /over 65536/],
    ];
    for (const [t, re] of cases) expect(() => parseManscdp(t)).toThrow(re);
  });

  test("fuzz: mutated documents parse or throw ManscdpError, nothing else", () => {
    const rnd = prng(28181);
    const src = KEEPALIVE_XML;
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const chars = [...src];
      for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) {
        const at = Math.floor(rnd() * chars.length);
        const r = rnd();
        if (r < 0.5) chars[at] = "<>/&;!?[]-\"'#x0 "[Math.floor(rnd() * 16)]!;
        else if (r < 0.75) chars.splice(at, Math.floor(rnd() * 20));
        else chars.splice(at, 0, ...chars.slice(Math.floor(rnd() * chars.length)).slice(0, 30));
      }
      try {
        parseManscdp(chars.join(""));
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(ManscdpError);
      }
    }
    expect(ok).toBeGreaterThan(50);
    expect(parseXml("<a>&#x4e2d;&#25991;&bogus;</a>").text).toBe("中文&bogus;");
  });

  test("fuzz: mutated SDP parses or throws SdpError", () => {
    const rnd = prng(4566);
    for (let i = 0; i < 3000; i++) {
      const chars = [...DEVICE_SDP];
      for (let k = 1 + Math.floor(rnd() * 6); k > 0; k--) {
        const at = Math.floor(rnd() * chars.length);
        if (rnd() < 0.6) chars[at] = "=\r\n :/0a9my"[Math.floor(rnd() * 11)]!;
        else chars.splice(at, Math.floor(rnd() * 20));
      }
      try {
        parseGbSdp(chars.join(""));
      } catch (e) {
        expect(e).toBeInstanceOf(SdpError);
      }
    }
  });
});

/** GB18030 bytes of a string, using the two characters' known code points (test fixture; ASCII passes through). */
function gb18030Encode(s: string): Uint8Array {
  const table: Record<string, [number, number]> = {
    "大": [0xb4, 0xf3], "门": [0xc3, 0xc5], "车": [0xb3, 0xb5], "库": [0xbf, 0xe2], "后": [0xba, 0xf3],
  };
  const out: number[] = [];
  for (const ch of s) {
    const t = table[ch];
    if (t) out.push(...t);
    else if (ch.charCodeAt(0) < 0x80) out.push(ch.charCodeAt(0));
    else throw new Error(`no GB18030 bytes for ${ch} in the test table`);
  }
  return Uint8Array.from(out);
}
