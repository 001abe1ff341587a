/** The HTTP servers: `http_api` (with `raw_api`, `auth`, `https`) and `http_server` (with `https`). */
import type { Scope } from "./env.ts";

export interface HttpsConfig {
  enabled: boolean;
  listen: string;
  key: string;
  cert: string;
}

export interface HttpApiConfig {
  enabled: boolean;
  /** First listen endpoint (`[ip:]port`), default "1985". */
  listen: string;
  listens: string[];
  crossdomain: boolean;
  rawApi: { enabled: boolean; allowReload: boolean; allowQuery: boolean; allowUpdate: boolean };
  auth: { enabled: boolean; username: string; password: string };
  https: HttpsConfig;
}

export interface HttpServerConfig {
  enabled: boolean;
  listen: string;
  listens: string[];
  /** Document root, default "./objs/nginx/html". */
  dir: string;
  crossdomain: boolean;
  https: HttpsConfig;
}

function httpsOf(s: Scope, defListen: string): HttpsConfig {
  return {
    enabled: s.boolOn("enabled"),
    listen: s.list("listen", [defListen])[0] ?? defListen,
    key: s.str("key", "./conf/server.key"),
    cert: s.str("cert", "./conf/server.crt"),
  };
}

function httpServerListens(g: Scope): string[] {
  return g.child("http_server").list("listen", ["8080"]);
}

function httpServerHttps(g: Scope): HttpsConfig {
  return httpsOf(g.child("http_server").child("https"), "8088");
}

/** `http_api`, from the global scope `g`. */
export function httpApiOf(g: Scope): HttpApiConfig {
  const s = g.child("http_api");
  const listens = s.list("listen", ["1985"]);
  const serverListens = httpServerListens(g);
  // The HTTPS API shares the HTTPS server port when the API shares the HTTP server port.
  const sameHttp = listens.length === serverListens.length && listens.every((x, i) => x === serverListens[i]);
  const httpsDefault = sameHttp ? httpServerHttps(g).listen : "1990";
  const raw = s.child("raw_api");
  const auth = s.child("auth");
  return {
    enabled: s.boolOn("enabled"),
    listen: listens[0] ?? "",
    listens,
    crossdomain: s.boolNotOff("crossdomain"),
    rawApi: {
      enabled: raw.boolOn("enabled"),
      allowReload: raw.boolOn("allow_reload"),
      // SRS removed query/update of the raw API; always off.
      allowQuery: false,
      allowUpdate: false,
    },
    auth: { enabled: auth.boolOn("enabled"), username: auth.str("username", ""), password: auth.str("password", "") },
    https: httpsOf(s.child("https"), httpsDefault),
  };
}

/** `http_server`, from the global scope `g`. */
export function httpServerOf(g: Scope): HttpServerConfig {
  const s = g.child("http_server");
  const listens = httpServerListens(g);
  return {
    enabled: s.boolOn("enabled"),
    listen: listens[0] ?? "",
    listens,
    dir: s.str("dir", "./objs/nginx/html"),
    crossdomain: s.boolNotOff("crossdomain"),
    https: httpServerHttps(g),
  };
}
