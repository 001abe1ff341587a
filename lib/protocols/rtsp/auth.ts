/**
 * RTSP authentication (RFC 2326 D.1, on HTTP's RFC 2617): `rtsp_server { auth { enabled on; username u;
 * password p; } }` asks every DESCRIBE and ANNOUNCE for credentials. The 401 offers Digest (MD5, no qop, as
 * FFmpeg, GStreamer, VLC and cameras answer it) and Basic; the client picks. The nonce is the session's own
 * (one per connection). The hooks (on_connect, on_play, on_publish) run after this check, as for any protocol.
 */
import { Buffer } from "node:buffer";
import { nodeCrypto } from "../../runtime/builtin.ts";
import { digestChallenge, newNonce, parseDigestAuthorization, verifyDigest } from "../../net/digest.ts";

export const RTSP_REALM = "srs-ts";

export type AuthResult = { ok: true } | { ok: false; reason: string; challenges: string[] };

export interface RtspAuth {
  check(method: string, authorization: string | undefined, publish: boolean): AuthResult;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && nodeCrypto().timingSafeEqual(x, y);
}

/** The credentials check of one connection (its nonce lives as long as the connection). */
export function rtspAuth(o: { username: string; password: string }): RtspAuth {
  const nonce = newNonce();
  const challenges = [digestChallenge(RTSP_REALM, nonce), `Basic realm="${RTSP_REALM}"`];
  return {
    check(method, authorization) {
      if (!authorization) return { ok: false, reason: "no credentials", challenges };
      const basic = /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
      if (basic) {
        const text = Buffer.from(basic[1]!, "base64").toString("utf8");
        const c = text.indexOf(":");
        if (c >= 0 && same(text.slice(0, c), o.username) && same(text.slice(c + 1), o.password)) return { ok: true };
        return { ok: false, reason: "bad basic credentials", challenges };
      }
      const d = parseDigestAuthorization(authorization);
      if (!d) return { ok: false, reason: "unreadable credentials", challenges };
      if (!same(d.username, o.username)) return { ok: false, reason: `unknown user ${JSON.stringify(d.username.slice(0, 32))}`, challenges };
      if (!verifyDigest(d, { method, password: o.password, realm: RTSP_REALM, nonce })) return { ok: false, reason: "bad digest credentials", challenges };
      return { ok: true };
    },
  };
}
