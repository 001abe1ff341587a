/**
 * Building SIP messages a GB28181 server sends: responses to a device's requests (RFC 3261 8.2.6: Via list,
 * From, To with a tag added, Call-ID and CSeq copied) and requests of its own (8.1.1: INVITE with an SDP offer,
 * MESSAGE with a MANSCDP body, BYE, ACK). Identifiers come from crypto randomness; nothing is global.
 */
import { randomBytes } from "node:crypto";
import { SipHeaders, type SipRequest, type SipResponse } from "./sip-message.ts";
import { parseNameAddr } from "./sip-values.ts";

/** Reason phrases of the statuses GB28181 uses (RFC 3261 21). */
const REASONS: Record<number, string> = {
  100: "Trying", 180: "Ringing", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 408: "Request Timeout", 481: "Call/Transaction Does Not Exist", 486: "Busy Here",
  488: "Not Acceptable Here", 500: "Server Internal Error", 503: "Service Unavailable",
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 300 ? "OK" : "Error");
}

/** A Via branch (RFC 3261 8.1.1.7: starts with the magic cookie z9hG4bK). */
export function newBranch(): string {
  return `z9hG4bK${randomBytes(8).toString("hex")}`;
}

/** A From/To tag (RFC 3261 19.3: at least 32 bits of randomness). */
export function newTag(): string {
  return randomBytes(6).toString("hex");
}

export function newCallId(host?: string): string {
  const id = randomBytes(12).toString("hex");
  return host ? `${id}@${host}` : id;
}

export interface ResponseOptions {
  reason?: string;
  /** The To tag to add when the request's To has none (responses above 100, RFC 3261 8.2.6.2). */
  toTag?: string;
  /** More headers (e.g. Contact, Expires, Date, WWW-Authenticate). */
  headers?: [string, string][];
  body?: Uint8Array | string;
  contentType?: string;
}

/** The response to `req` (RFC 3261 8.2.6): Via (all, in order), From, To (+ tag), Call-ID, CSeq copied. */
export function createResponse(req: SipRequest, status: number, o: ResponseOptions = {}): SipResponse {
  const h = new SipHeaders();
  for (const v of req.headers.getAll("Via")) h.add("Via", v);
  h.add("From", req.headers.get("From") ?? "");
  let to = req.headers.get("To") ?? "";
  if (status > 100 && !parseNameAddr(to)?.params.has("tag")) to = `${to};tag=${o.toTag ?? newTag()}`;
  h.add("To", to);
  h.add("Call-ID", req.headers.get("Call-ID") ?? "");
  h.add("CSeq", req.headers.get("CSeq") ?? "");
  for (const [n, v] of o.headers ?? []) h.add(n, v);
  const body = typeof o.body === "string" ? new TextEncoder().encode(o.body) : o.body ?? new Uint8Array(0);
  if (body.length > 0) h.add("Content-Type", o.contentType ?? "Application/MANSCDP+xml");
  return { type: "response", status, reason: o.reason ?? reasonPhrase(status), headers: h, body };
}

export interface RequestOptions {
  method: string;
  /** Request-URI, e.g. sip:34020000001320000001@192.168.1.64:5060. */
  uri: string;
  /** Our Via: transport, the address the peer answers to, branch (a new one by default). */
  via: { transport: "UDP" | "TCP"; host: string; port: number; branch?: string; rport?: boolean };
  from: { uri: string; tag: string };
  to: { uri: string; tag?: string };
  callId: string;
  cseq: number;
  contact?: string;
  maxForwards?: number;
  userAgent?: string;
  headers?: [string, string][];
  body?: Uint8Array | string;
  contentType?: string;
}

/** A request (RFC 3261 8.1.1): Via, From, To, Call-ID, CSeq, Max-Forwards, then the rest. */
export function createRequest(o: RequestOptions): SipRequest {
  const h = new SipHeaders();
  h.add("Via", `SIP/2.0/${o.via.transport} ${o.via.host}:${o.via.port}${o.via.rport === false ? "" : ";rport"};branch=${o.via.branch ?? newBranch()}`);
  h.add("From", `<${o.from.uri}>;tag=${o.from.tag}`);
  h.add("To", `<${o.to.uri}>${o.to.tag ? `;tag=${o.to.tag}` : ""}`);
  h.add("Call-ID", o.callId);
  h.add("CSeq", `${o.cseq} ${o.method}`);
  h.add("Max-Forwards", String(o.maxForwards ?? 70));
  if (o.contact) h.add("Contact", `<${o.contact}>`);
  if (o.userAgent) h.add("User-Agent", o.userAgent);
  for (const [n, v] of o.headers ?? []) h.add(n, v);
  const body = typeof o.body === "string" ? new TextEncoder().encode(o.body) : o.body ?? new Uint8Array(0);
  if (body.length > 0) h.add("Content-Type", o.contentType ?? "Application/MANSCDP+xml");
  return { type: "request", method: o.method, uri: o.uri, headers: h, body };
}

/**
 * The ACK for a 2xx answer to our INVITE (RFC 3261 13.2.2.4): same Call-ID, From, To (with the answer's tag),
 * CSeq number with method ACK, a new branch, Request-URI = the answer's Contact (or the INVITE's URI).
 */
export function createAck(invite: SipRequest, ok: SipResponse, via: RequestOptions["via"]): SipRequest {
  const contact = parseNameAddr(ok.headers.get("Contact") ?? "")?.uri;
  const seq = (ok.headers.get("CSeq") ?? "").trim().split(/\s+/)[0] ?? "1";
  const h = new SipHeaders();
  h.add("Via", `SIP/2.0/${via.transport} ${via.host}:${via.port}${via.rport === false ? "" : ";rport"};branch=${via.branch ?? newBranch()}`);
  h.add("From", invite.headers.get("From") ?? "");
  h.add("To", ok.headers.get("To") ?? "");
  h.add("Call-ID", invite.headers.get("Call-ID") ?? "");
  h.add("CSeq", `${seq} ACK`);
  h.add("Max-Forwards", "70");
  return { type: "request", method: "ACK", uri: contact ?? invite.uri, headers: h, body: new Uint8Array(0) };
}

/**
 * A BYE within the dialog an INVITE/200 made (RFC 3261 15.1.1): From and To of the dialog (the 200's To carries
 * the device's tag), same Call-ID, the next CSeq.
 */
export function createBye(invite: SipRequest, ok: SipResponse, via: RequestOptions["via"], cseq: number): SipRequest {
  const ack = createAck(invite, ok, via);
  ack.method = "BYE";
  ack.headers.set("CSeq", `${cseq} BYE`);
  return ack;
}
