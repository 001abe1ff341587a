#!/usr/bin/env bash
# The project's test command (README and .ci/run call this): unit, fuzz and end-to-end tests under Bun.
# Prints a closing line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
for tool in ffmpeg ffprobe bun; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (see README: apt-get install -y ffmpeg srt-tools chromium; npm ci)"; exit 1; }
done
out=$(mktemp)
bun test --timeout 60000 "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass' "$out" | tail -1 | grep -Eo '[0-9]+')
fail=$(grep -Eo '^ *[0-9]+ fail' "$out" | tail -1 | grep -Eo '[0-9]+')
rm -f "$out"
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit $rc
