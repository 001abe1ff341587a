/**
 * A STUN Binding request (RFC 5389 6, 15.3, 15.4) with USERNAME and MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the
 * ICE password, short-term credentials), as ICE checks carry them: for the unit tests of the RTC mux.
 */
import { createHmac } from "node:crypto";

export function stunRequest(user: string, password: string): Buffer {
  const u = Buffer.from(user);
  const upad = (u.length + 3) & ~3;
  const body = Buffer.alloc(4 + upad + 24);
  body.writeUInt16BE(0x0006, 0); // USERNAME
  body.writeUInt16BE(u.length, 2);
  u.copy(body, 4);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(1, 0); // Binding request
  head.writeUInt16BE(body.length, 2);
  head.writeUInt32BE(0x2112a442, 4); // magic cookie
  Buffer.from("0123456789ab").copy(head, 8);
  const mi = 4 + upad;
  body.writeUInt16BE(0x0008, mi); // MESSAGE-INTEGRITY over everything before it, length counting it
  body.writeUInt16BE(20, mi + 2);
  createHmac("sha1", password).update(Buffer.concat([head, body.subarray(0, mi)])).digest().copy(body, mi + 4);
  return Buffer.concat([head, body]);
}
