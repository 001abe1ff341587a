/**
 * SRS's CORS answer (`crossdomain on`), set only when a request carries `Origin`. One addition to SRS's set:
 * `Authorization` is named in Allow-Headers, because the `*` wildcard does not cover it (Fetch standard) and the
 * console sends basic-auth credentials to an API on another port.
 */
export const CORS_HEADERS: readonly (readonly [string, string])[] = [
  ["Access-Control-Allow-Origin", "*"],
  ["Access-Control-Allow-Headers", "*, Authorization"],
  ["Access-Control-Allow-Methods", "*"],
  ["Access-Control-Expose-Headers", "*"],
  ["Access-Control-Allow-Credentials", "false"],
  ["Access-Control-Request-Private-Network", "true"],
];
