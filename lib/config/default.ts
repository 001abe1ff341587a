/**
 * The built-in default config (used when the server runs without `-c`). Identical to conf/srs.conf (a test checks).
 */
export const DEFAULT_CONFIG_TEXT = `# main config for srs-ts, the same as SRS's conf/srs.conf except that it runs in the foreground and logs to the
# console (daemon off; srs_log_tank console;) and enables the SRT server.
# @see SRS's full.conf for every directive; conf/srs.yaml is the same config in YAML.

listen              1935;
max_connections     1000;
srs_log_tank        console;
#srs_log_file        ./objs/srs.log;
daemon              off;
http_api {
    enabled         on;
    listen          1985;
}
http_server {
    enabled         on;
    listen          8080;
    dir             ./objs/nginx/html;
}
rtc_server {
    enabled on;
    listen 8000; # UDP port
    # @see https://ossrs.net/lts/zh-cn/docs/v4/doc/webrtc#config-candidate
    candidate $CANDIDATE;
}
srt_server {
    enabled on;
    listen 10080; # UDP port
}
vhost __defaultVhost__ {
    hls {
        enabled         on;
    }
    http_remux {
        enabled     on;
        mount       [vhost]/[app]/[stream].flv;
    }
    rtc {
        enabled     on;
        # SRS ships both off; srs-ts turns them on so any input plays on any output with audio: they switch
        # the audio bridge (AAC -> Opus for WebRTC viewers, only while one watches; Opus -> AAC for RTMP/FLV/HLS/DVR),
        # about 1-2% of a core per stream. Video needs neither. Config files without them keep SRS's default (off).
        # @see https://ossrs.net/lts/zh-cn/docs/v4/doc/webrtc#rtmp-to-rtc
        rtmp_to_rtc on;
        # @see https://ossrs.net/lts/zh-cn/docs/v4/doc/webrtc#rtc-to-rtmp
        rtc_to_rtmp on;
    }
    srt {
        enabled     on;
        srt_to_rtmp on;
    }

    play{
        gop_cache_max_frames 2500;
    }
}
`;
