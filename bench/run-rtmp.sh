#!/usr/bin/env bash
# RTMP fan-out benchmark: our server (bun main.ts) and, with --compare, node-media-server, each on free
# 127.0.0.1 ports, one looping ~1 Mbps publisher (separate process) and N plain-socket RTMP players.
#
#   bash bench/run-rtmp.sh [--players 500] [--seconds 30] [--warmup 5] [--ramp 5] [--ffmpeg] [--compare]
#                          [--snapshot [REV]] [--hls]
#
# Our server runs with its cwd in a temp dir (it writes objs/ there) and with HLS off
# (SRS_VHOST_HLS_ENABLED=off) so the figures are the RTMP fan-out's; --hls keeps the built-in HLS on.
# --snapshot runs our server from `git archive REV` (default HEAD) in a temp dir instead of the working tree,
# so a half-edited tree cannot break or skew the run.
# Extra env is passed to our server, e.g. SRS_VHOST_PLAY_MW_LATENCY=100 bash bench/run-rtmp.sh.
# node-media-server is installed on demand with `npm install --prefix /tmp/nms node-media-server`
# (outside the repo; NMS_DIR overrides) and run with a copy of its config (it rewrites it on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

PLAYERS=500 SECONDS_=30 WARMUP=5 RAMP=5 COMPARE=0 PUB=() SNAPSHOT="" HLS=off
while [ $# -gt 0 ]; do
  case "$1" in
    --players) PLAYERS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --ramp) RAMP=$2; shift 2 ;;
    --ffmpeg) PUB=(--ffmpeg); shift ;;
    --compare) COMPARE=1; shift ;;
    --hls) HLS=on; shift ;;
    --snapshot) if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then SNAPSHOT=$2; shift 2; else SNAPSHOT=HEAD; shift; fi ;;
    *) echo "unknown option $1" >&2; exit 1 ;;
  esac
done

CLIP=tests/.media/clip.flv
[ -f "$CLIP" ] || bun tests/helpers/media.ts
NMS_DIR=${NMS_DIR:-/tmp/nms}
WORK=$(mktemp -d /tmp/srs-ts-bench.XXXXXX)
RESULTS=$WORK/results.txt
: > "$RESULTS"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap cleanup EXIT

free_port() { bun -e 'import { freePort } from "./bench/server.ts"; console.log(await freePort());'; }
wait_port() { # port log: wait up to 15 s for the port, fail at once if the server died
  for _ in $(seq 150); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited; log tail:" >&2; tail -5 "$2" >&2; exit 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "port $1 not listening after 15 s; log tail:" >&2; tail -5 "$2" >&2; exit 1
}

load() { # label port
  bun bench/rtmp-load.ts --label "$1" --url "rtmp://127.0.0.1:$2/live/bench" --players "$PLAYERS" \
    --seconds "$SECONDS_" --warmup "$WARMUP" --ramp "$RAMP" --pid "$SERVER_PID" --clip "$CLIP" "${PUB[@]}" \
    | tee -a "$RESULTS"
}

SRC=$PWD
if [ -n "$SNAPSHOT" ]; then
  SRC=$WORK/src
  mkdir -p "$SRC"
  git archive "$SNAPSHOT" | tar -x -C "$SRC"
  ln -s "$PWD/node_modules" "$SRC/node_modules"
  echo "our server from a snapshot of $(git rev-parse --short "$SNAPSHOT")"
else
  echo "our server from the working tree (HEAD $(git rev-parse --short HEAD)$(git diff --quiet -- lib main.ts || echo ', with local changes'))"
fi
echo "== srs-ts (bun main.ts, hls $HLS), $PLAYERS players, $SECONDS_ s; $(nproc) cores, $(date -u +%F)"
P1=$(free_port); P2=$(free_port); P3=$(free_port)
mkdir -p "$WORK/srs-cwd"
SRS_VHOST_HLS_ENABLED=${SRS_VHOST_HLS_ENABLED:-$HLS} \
SRS_LISTEN=127.0.0.1:$P1 SRS_HTTP_SERVER_LISTEN=127.0.0.1:$P2 SRS_HTTP_API_LISTEN=127.0.0.1:$P3 \
  SRS_RTC_SERVER_ENABLED=off SRS_SRT_SERVER_ENABLED=off SRS_PID=$WORK/srs.pid SRS_LOG_TANK=console SRS_DAEMON=off \
  bash -c 'cd "$1" && exec bun "$2/main.ts"' _ "$WORK/srs-cwd" "$SRC" > "$WORK/srs-ts.log" 2>&1 &
SERVER_PID=$!
wait_port "$P1" "$WORK/srs-ts.log"
# SRS_WORKERS (srs-ts's workers N): the first worker answers first; let the others bind too. CPU and RSS are
# measured over the primary and its workers (bench/proc.ts).
case "${SRS_WORKERS:-1}" in 1 | "") ;; *) sleep 2.5 ;; esac
echo "server pid $SERVER_PID, rtmp port $P1, idle RSS $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/$SERVER_PID/status)"
load srs-ts "$P1"
cleanup

if [ "$COMPARE" = 1 ]; then
  NMS=$NMS_DIR/node_modules/node-media-server
  [ -f "$NMS/bin/app.js" ] || npm install --prefix "$NMS_DIR" --no-save node-media-server >/dev/null
  mkdir -p "$WORK/nms"
  cp "$NMS/bin/"*.pem "$WORK/nms/"
  # A copy of its config without RTMPS/HTTPS listeners (it rewrites the file on first start).
  node -e 'const fs=require("fs");const c=JSON.parse(fs.readFileSync(process.argv[1],"utf8"));delete c.rtmps;delete c.https;
    fs.writeFileSync(process.argv[2],JSON.stringify(c,null,2))' "$NMS/bin/config.json" "$WORK/nms/config.json"
  echo
  echo "== node-media-server $(node -p "require('$NMS/package.json').version") (node $(node --version)), $PLAYERS players, $SECONDS_ s"
  P1=$(free_port); P2=$(free_port)
  (cd "$WORK/nms" && exec node "$NMS/bin/app.js" -c "$WORK/nms/config.json" --bind 127.0.0.1 --rtmp-port "$P1" --http-port "$P2" \
    --no-admin --data-path "$WORK/nms/data") > "$WORK/nms.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$P1" "$WORK/nms.log"
  echo "server pid $SERVER_PID, rtmp port $P1, idle RSS $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/$SERVER_PID/status)"
  load node-media-server "$P1"
  cleanup
fi

echo
echo "== summary ($PLAYERS players of a $(awk -F'"streamKbps":' 'NF>1{split($2,a,",");print a[1];exit}' "$RESULTS") kbps stream, $(nproc) cores)"
bun bench/summary.ts "$RESULTS"
echo "(logs in $WORK)"
