/**
 * MANSCDP bodies (GB/T 28181-2016 Appendix A): small XML documents in SIP MESSAGE requests, e.g.
 *
 *   <?xml version="1.0" encoding="GB2312"?>
 *   <Notify><CmdType>Keepalive</CmdType><SN>43</SN><DeviceID>34020000001320000001</DeviceID><Status>OK</Status></Notify>
 *
 * Roots: Query, Control, Notify, Response. Reading is done by a small bounded XML reader (elements, text, the five
 * predefined entities and character references; comments, processing instructions and CDATA handled; no DTDs),
 * no XML dependency. Bytes are decoded per the declared encoding (GB2312/GBK/GB18030 or UTF-8).
 * Limits: 64 KiB of input, 4096 elements, depth 16; beyond them, or on malformed XML, a ManscdpError.
 */

export class ManscdpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManscdpError";
  }
}

export interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}

export interface Manscdp {
  /** Query | Control | Notify | Response. */
  root: string;
  cmdType: string;
  sn: number;
  deviceId: string;
  /** Text of the root's simple children (Status, Result, SumNum, Name, ...), by name (first wins). */
  fields: Map<string, string>;
  /** Catalog: the DeviceList's Items, each as its simple children. */
  items: Map<string, string>[];
  tree: XmlElement;
}

const MAX_BYTES = 64 * 1024;
const MAX_ELEMENTS = 4096;
const MAX_DEPTH = 16;

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: "\"", apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#\d{1,7}|[a-z]{2,4});/g, (all, e: string) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : all;
    }
    return ENTITIES[e] ?? all;
  });
}

/** Decodes the body per its XML declaration's encoding (GB28181 devices mostly say GB2312). */
export function decodeManscdpBody(body: Uint8Array): string {
  if (body.length > MAX_BYTES) throw new ManscdpError(`MANSCDP: body of ${body.length} bytes over ${MAX_BYTES}`);
  const head = new TextDecoder("latin1").decode(body.subarray(0, 100));
  const enc = /encoding\s*=\s*["']([A-Za-z0-9_-]+)["']/i.exec(head)?.[1]?.toLowerCase();
  const label = enc && /^(gb2312|gbk|gb18030|cp936)$/.test(enc) ? "gb18030" : "utf-8";
  return new TextDecoder(label).decode(body);
}

/** Parses XML text into its root element. Throws ManscdpError. */
export function parseXml(text: string): XmlElement {
  if (text.length > MAX_BYTES) throw new ManscdpError(`MANSCDP: document of ${text.length} characters over ${MAX_BYTES}`);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let count = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf("<", i);
    const chunk = text.slice(i, lt < 0 ? n : lt);
    if (stack.length > 0) stack[stack.length - 1]!.text += decodeEntities(chunk);
    else if (chunk.trim()) throw new ManscdpError(`MANSCDP: text outside the root element: ${JSON.stringify(chunk.trim().slice(0, 40))}`);
    if (lt < 0) break;
    if (text.startsWith("<?", lt)) {
      const e = text.indexOf("?>", lt);
      if (e < 0) throw new ManscdpError("MANSCDP: unterminated processing instruction");
      i = e + 2;
    } else if (text.startsWith("<!--", lt)) {
      const e = text.indexOf("-->", lt);
      if (e < 0) throw new ManscdpError("MANSCDP: unterminated comment");
      i = e + 3;
    } else if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt);
      if (e < 0 || stack.length === 0) throw new ManscdpError("MANSCDP: bad CDATA section");
      stack[stack.length - 1]!.text += text.slice(lt + 9, e);
      i = e + 3;
    } else if (text.startsWith("<!", lt)) {
      throw new ManscdpError("MANSCDP: DTDs are not accepted");
    } else {
      const gt = text.indexOf(">", lt);
      if (gt < 0) throw new ManscdpError("MANSCDP: unterminated tag");
      const tag = text.slice(lt + 1, gt);
      i = gt + 1;
      if (tag.startsWith("/")) {
        const name = tag.slice(1).trim();
        const open = stack.pop();
        if (!open || open.name !== name) throw new ManscdpError(`MANSCDP: </${name}> closes <${open?.name ?? "nothing"}>`);
        open.text = open.text.trim();
        continue;
      }
      const selfClosing = tag.endsWith("/");
      const name = /^([A-Za-z_][\w.:-]*)/.exec(tag)?.[1];
      if (!name) throw new ManscdpError(`MANSCDP: bad tag <${tag.slice(0, 40)}>`);
      if (++count > MAX_ELEMENTS) throw new ManscdpError(`MANSCDP: more than ${MAX_ELEMENTS} elements`);
      const el: XmlElement = { name, text: "", children: [] };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
      else if (root) throw new ManscdpError("MANSCDP: more than one root element");
      else root = el;
      if (!selfClosing) {
        stack.push(el);
        if (stack.length > MAX_DEPTH) throw new ManscdpError(`MANSCDP: nesting deeper than ${MAX_DEPTH}`);
      }
    }
  }
  if (stack.length > 0) throw new ManscdpError(`MANSCDP: <${stack[stack.length - 1]!.name}> not closed`);
  if (!root) throw new ManscdpError("MANSCDP: no root element");
  return root;
}

function simpleChildren(el: XmlElement): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of el.children) if (c.children.length === 0 && !m.has(c.name)) m.set(c.name, c.text);
  return m;
}

/** Reads a MANSCDP body (bytes of a SIP MESSAGE): CmdType, SN, DeviceID required. Throws ManscdpError. */
export function parseManscdp(body: Uint8Array | string): Manscdp {
  const tree = parseXml(typeof body === "string" ? body : decodeManscdpBody(body));
  const fields = simpleChildren(tree);
  const cmdType = fields.get("CmdType");
  const snText = fields.get("SN");
  const deviceId = fields.get("DeviceID");
  if (!cmdType) throw new ManscdpError(`MANSCDP: <${tree.name}> without CmdType`);
  if (!snText || !/^\d{1,10}$/.test(snText)) throw new ManscdpError(`MANSCDP: ${cmdType} with SN ${JSON.stringify(snText ?? "")}`);
  if (!deviceId) throw new ManscdpError(`MANSCDP: ${cmdType} without DeviceID`);
  const list = tree.children.find((c) => c.name === "DeviceList");
  const items = list ? list.children.filter((c) => c.name === "Item").map(simpleChildren) : [];
  return { root: tree.name, cmdType, sn: Number(snText), deviceId, fields, items, tree };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${({ "<": "lt", ">": "gt", "&": "amp", "\"": "quot", "'": "apos" } as Record<string, string>)[c]};`);
}

/** A MANSCDP document: `<Root><CmdType/><SN/><DeviceID/>...fields</Root>` (UTF-8 declared). */
export function writeManscdp(o: { root: string; cmdType: string; sn: number; deviceId: string; fields?: [string, string][] }): string {
  const parts = [`<CmdType>${escapeXml(o.cmdType)}</CmdType>`, `<SN>${o.sn}</SN>`, `<DeviceID>${escapeXml(o.deviceId)}</DeviceID>`];
  for (const [k, v] of o.fields ?? []) {
    if (!/^[A-Za-z_][\w.-]*$/.test(k)) throw new ManscdpError(`MANSCDP: bad element name ${JSON.stringify(k)}`);
    parts.push(`<${k}>${escapeXml(v)}</${k}>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\r\n<${o.root}>\r\n${parts.join("\r\n")}\r\n</${o.root}>\r\n`;
}
