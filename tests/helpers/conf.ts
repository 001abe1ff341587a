/**
 * Config text for e2e tests. The ports written here (1935, 1985, 8080) are placeholders: startServer's
 * SRS_*_LISTEN env puts every listener on a free port.
 */

/** RTMP, the HTTP API and the HTTP server (files in ./html), more `globals`, and a default vhost holding `vhost`. */
export function serverConf(vhost: string, globals = ""): string {
  return `listen 1935; daemon off; srs_log_tank console;
http_api { enabled on; listen 1985; }
http_server { enabled on; listen 8080; dir ./html; }
${globals}
vhost __defaultVhost__ {
${vhost}
}
`;
}

/** Vhost lines: HTTP-FLV at [vhost]/[app]/[stream].flv and HLS in ./html with 1 s fragments. */
export const FLV_AND_HLS = `http_remux { enabled on; mount [vhost]/[app]/[stream].flv; }
hls { enabled on; hls_path ./html; hls_fragment 1; hls_window 10; }`;
