/** Version reported by `-v`, the API and the RTMP connect result. SRS_COMPAT is the SRS release we mirror. */
export const VERSION = "0.1.0";
export const SRS_COMPAT_VERSION = "7.0.18";
export const SERVER_NAME = "srs-ts";
/** The `Server` header value (SRS sends `SRS/7.0.18(Hang)`). */
export const SERVER_SIGNATURE = `SRS/${SRS_COMPAT_VERSION}(srs-ts/${VERSION})`;
