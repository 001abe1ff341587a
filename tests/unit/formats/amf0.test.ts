import { describe, expect, test } from "bun:test";
import {
  Amf0Error,
  amf3CommandBody,
  decode,
  decodeAll,
  decodeAt,
  ecmaArray,
  encode,
  isEcmaArray,
} from "../../../lib/formats/amf0.ts";
import type { Amf0Value } from "../../../lib/formats/amf0.ts";
import { prng as rng } from "../../helpers/prng.ts";

const hex = (s: string): Uint8Array => new Uint8Array((s.replace(/\s+/g, "").match(/../g) ?? []).map((h) => parseInt(h, 16)));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// value, expected bytes (hex)
const FIXTURES: Array<[string, Amf0Value, string]> = [
  ["number 0", 0, "00 0000000000000000"],
  ["number 1.5", 1.5, "00 3ff8000000000000"],
  ["number -2", -2, "00 c000000000000000"],
  ["true", true, "01 01"],
  ["false", false, "01 00"],
  ["string", "connect", "02 0007 636f6e6e656374"],
  ["empty string", "", "02 0000"],
  ["utf-8 string", "é", "02 0002 c3a9"],
  ["null", null, "05"],
  ["undefined", undefined, "06"],
  ["empty object", {}, "03 000009"],
  ["object", { a: 1 }, "03 0001 61 00 3ff0000000000000 000009"],
  ["nested object", { o: { s: "x" } }, "03 0001 6f 03 0001 73 02 0001 78 000009 000009"],
  ["strict array", [1, "a"], "0a 00000002 00 3ff0000000000000 02 0001 61"],
  ["date", new Date(0), "0b 0000000000000000 0000"],
];

describe("amf0 fixtures", () => {
  for (const [name, v, h] of FIXTURES) {
    test(`encode ${name}`, () => {
      expect(toHex(encode(v))).toBe(toHex(hex(h)));
    });
    test(`decode ${name}`, () => {
      expect(decode(hex(h))).toEqual(v);
    });
  }

  test("ecma array encodes with count and decodes tagged", () => {
    const v = ecmaArray({ duration: 0, width: 320 });
    const bytes = encode(v);
    expect(toHex(bytes)).toBe(
      toHex(hex("08 00000002 0008 6475726174696f6e 00 0000000000000000 0005 7769647468 00 4074000000000000 000009")),
    );
    const back = decode(bytes);
    expect(back).toEqual({ duration: 0, width: 320 });
    expect(isEcmaArray(back)).toBe(true);
    expect(toHex(encode(back))).toBe(toHex(bytes));
    expect(isEcmaArray(decode(bytes, 0, { tagEcmaArrays: false }))).toBe(false);
  });

  test("ecma array count is advisory (end marker terminates)", () => {
    const b = hex("08 00000000 0001 61 01 01 000009");
    expect(decode(b)).toEqual({ a: true });
  });

  test("long string", () => {
    const s = "x".repeat(70000);
    const b = encode(s);
    expect(b[0]).toBe(0x0c);
    expect(new DataView(b.buffer).getUint32(1)).toBe(70000);
    expect(decode(b)).toBe(s);
    expect(decode(hex("0c 00000002 6869"))).toBe("hi");
  });

  test("typed object decodes as plain object, xml as string", () => {
    expect(decode(hex("10 0003 466f6f 0001 61 05 000009"))).toEqual({ a: null });
    expect(decode(hex("0f 00000003 3c612f"))).toBe("<a/");
  });

  test("decodeAll and decodeAt", () => {
    const b = encode("onStatus", 0, null, { code: "NetStream.Play.Start" });
    expect(decodeAll(b)).toEqual(["onStatus", 0, null, { code: "NetStream.Play.Start" }]);
    const r = decodeAt(b, 0);
    expect(r.value).toBe("onStatus");
    expect(r.offset).toBe(11);
    expect(decodeAll(b, r.offset)[0]).toBe(0);
  });

  test("__proto__ key stays an own property", () => {
    const b = hex("03 0009 5f5f70726f746f5f5f 01 01 000009");
    const o = decode(b) as Record<string, Amf0Value>;
    expect(Object.keys(o)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("amf3 command body helper", () => {
    const amf0 = encode("connect", 1);
    const amf3 = new Uint8Array(amf0.length + 1);
    amf3.set(amf0, 1);
    expect(decodeAll(amf3CommandBody(amf3))).toEqual(["connect", 1]);
    expect(amf3CommandBody(amf0)).toBe(amf0);
  });
});

describe("amf0 errors", () => {
  const truncated: Array<[string, string]> = [
    ["empty", ""],
    ["number", "00 3ff0"],
    ["boolean", "01"],
    ["string length", "02 00"],
    ["string body", "02 0005 6162"],
    ["long string", "0c 0000ffff 61"],
    ["object without end", "03 0001 61 05"],
    ["object key", "03 0005 61"],
    ["ecma count", "08 0000"],
    ["strict array", "0a 00000003 05 05"],
    ["strict array huge count", "0a ffffffff 05"],
    ["date", "0b 0000000000000000"],
  ];
  for (const [name, h] of truncated) {
    test(`truncated ${name} -> Amf0Error`, () => {
      expect(() => decode(hex(h))).toThrow(Amf0Error);
    });
  }

  for (const [marker, word] of [
    ["07 0001", "reference"],
    ["04", "movieclip"],
    ["0d", "unsupported"],
    ["0e", "recordset"],
    ["11 02", "AMF3"],
    ["09", "object-end"],
    ["ff", "unknown"],
  ] as const) {
    test(`marker ${marker} -> clear Amf0Error`, () => {
      expect(() => decode(hex(marker))).toThrow(word);
      expect(() => decode(hex(marker))).toThrow(Amf0Error);
    });
  }

  test("depth bound", () => {
    // 100 nested one-element strict arrays: 0a 00000001 ...
    const parts: number[] = [];
    for (let i = 0; i < 100; i++) parts.push(0x0a, 0, 0, 0, 1);
    parts.push(0x05);
    expect(() => decode(new Uint8Array(parts))).toThrow("nesting");
    let v: Amf0Value = null;
    for (let i = 0; i < 100; i++) v = [v];
    expect(() => encode(v)).toThrow(Amf0Error);
  });
});


function randomValue(r: () => number, depth: number): Amf0Value {
  const k = Math.floor(r() * (depth > 3 ? 6 : 9));
  switch (k) {
    case 0:
      return r() * 1e6 - 5e5;
    case 1:
      return r() < 0.5;
    case 2:
      return String.fromCharCode(...Array.from({ length: Math.floor(r() * 20) }, () => 32 + Math.floor(r() * 500)));
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return new Date(Math.floor(r() * 2e12));
    case 6: {
      const o: Record<string, Amf0Value> = {};
      const n = Math.floor(r() * 5);
      for (let i = 0; i < n; i++) o[`k${i}_${Math.floor(r() * 100)}`] = randomValue(r, depth + 1);
      return r() < 0.3 ? ecmaArray(o) : o;
    }
    case 7:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default:
      return Math.floor(r() * 100);
  }
}

describe("amf0 fuzz (seeded)", () => {
  test("random values round trip", () => {
    const r = rng(42);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(r, 0);
      const b = encode(v);
      expect(decode(b)).toEqual(v);
      expect(toHex(encode(decode(b)))).toBe(toHex(b));
    }
  });

  test("mutated and random bytes only ever throw Amf0Error", () => {
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) {
        b = encode(randomValue(r, 0), randomValue(r, 0));
        const n = 1 + Math.floor(r() * 4);
        for (let j = 0; j < n && b.length > 0; j++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        if (r() < 0.5) b = b.subarray(0, Math.floor(r() * b.length));
      } else {
        b = new Uint8Array(Math.floor(r() * 64)).map(() => Math.floor(r() * 20));
      }
      try {
        decodeAll(b);
      } catch (e) {
        if (!(e instanceof Amf0Error)) throw e;
      }
    }
  });
});
