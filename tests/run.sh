#!/usr/bin/env bash
# The project's test command (README and .ci/run call it as `npm test`):
#   1. the type check, `tsc --noEmit -p .` (a type error counts as one failed test and fails the run);
#   2. the test clips, made once (tests/helpers/media.ts);
#   3. the tests under Bun: every unit test file in one process, and each end-to-end file in its own process, at
#      most SRS_TEST_JOBS (default 2) processes at a time, longest first (durations of the last run are kept in
#      tests/.timings). Each process's output is printed whole, under a header, when it ends; one still running
#      after SRS_TEST_JOB_TIMEOUT seconds (900) is killed and counted as failed.
# Ends with one line "tests: N passed, N failed" summing every process; exits non-zero if anything failed.
#
#   npm test                                    everything
#   npm test -- tests/unit/srt tests/e2e/srt.test.ts   only these files or folders (split the same way)
#   npm test -- tests/e2e/api.test.ts -t kick   with bun test options, passed to every process
#   SRS_TEST_JOBS=1 npm test                    one process at a time
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
for tool in ffmpeg ffprobe bun tsc; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (see README: apt-get install …; npm ci)"; exit 1; }
done

JOBS=${SRS_TEST_JOBS:-2}
[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "SRS_TEST_JOBS must be a positive number, not '$JOBS'"; exit 1; }
# A process still running after this many seconds is killed and counted as failed (a hang must not eat the run).
JOB_TIMEOUT=${SRS_TEST_JOB_TIMEOUT:-900}
TIMINGS=tests/.timings
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "::: typecheck (tsc --noEmit -p .)"
typecheck_failed=0
if tsc --noEmit -p .; then echo "typecheck: ok"; else typecheck_failed=1; echo "typecheck: FAILED (counted as 1 failed test)"; fi

echo "::: test clips"
bun tests/helpers/media.ts >/dev/null || { echo "could not make the test clips (tests/helpers/media.ts)"; exit 1; }

# One job, number $1: `bun test` over the files listed in $work/$1.args (its label on the first line). Writes the
# output to $work/$1.log and "pass fail rc seconds label" to $work/$1.result, then prints the log under a header,
# one job at a time so that outputs never interleave.
run_job() {
  local n=$1 t0=$SECONDS args
  mapfile -t args <"$work/$n.args"
  local label=${args[0]}
  SRS_TEST_PORT_SLOT=$n timeout --kill-after=10 "$JOB_TIMEOUT" bun test --timeout 60000 "${args[@]:1}" >"$work/$n.log" 2>&1
  local rc=$?
  [ "$rc" -eq 124 ] && echo "::: killed after ${JOB_TIMEOUT} s (SRS_TEST_JOB_TIMEOUT)" >>"$work/$n.log"
  local pass fail
  pass=$(grep -Eo '^ *[0-9]+ pass' "$work/$n.log" | tail -1 | grep -Eo '[0-9]+')
  fail=$(grep -Eo '^ *[0-9]+ fail' "$work/$n.log" | tail -1 | grep -Eo '[0-9]+')
  pass=${pass:-0} fail=${fail:-0}
  # A process that failed without a failed test (a file that does not load, a crash) still counts as a failure.
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  echo "$pass $fail $rc $((SECONDS - t0)) $label" >"$work/$n.result"
  {
    flock 9
    echo "::: [$label] ${pass} passed, ${fail} failed, exit ${rc}, $((SECONDS - t0)) s"
    cat "$work/$n.log"
  } 9>"$work/print.lock"
}
export -f run_job
export work JOB_TIMEOUT

# Seconds the job took last time, or a guess from the size of its files (about 1 s per kB of test code).
estimate() {
  local label=$1 t
  shift
  t=$(awk -v l="$label" '$2 == l { t = $1 } END { if (t != "") print t }' "$TIMINGS" 2>/dev/null)
  if [ -n "$t" ]; then echo "$t"; else du -cb "$@" | tail -1 | awk '{ print int($1 / 1000) }'; fi
}

# Arguments: test files or folders (the default is tests/unit and tests/e2e), and bun test options, passed to
# every process (e.g. -t "a test name", --bail).
paths=() options=()
for a in "$@"; do
  if [ -e "$a" ] && [ "${a#-}" = "$a" ]; then paths+=("$a"); else options+=("$a"); fi
done
[ ${#paths[@]} -eq 0 ] && paths=(tests/unit tests/e2e)
mapfile -t files < <(find "${paths[@]}" -name '*.test.ts' | sort -u)
unit=() e2e=()
for f in "${files[@]}"; do
  case "$f" in tests/e2e/* | ./tests/e2e/*) e2e+=("$f") ;; *) unit+=("$f") ;; esac
done

# Jobs as "estimate label file...", longest first: the unit files together, each end-to-end file alone.
planned=()
[ ${#unit[@]} -gt 0 ] && planned+=("$(estimate unit "${unit[@]}") unit ${unit[*]}")
for f in "${e2e[@]}"; do planned+=("$(estimate "$f" "$f") $f $f"); done
[ ${#planned[@]} -gt 0 ] || { echo "no test files in: ${paths[*]}"; exit 1; }
mapfile -t planned < <(printf '%s\n' "${planned[@]}" | sort -k1,1nr)
for i in "${!planned[@]}"; do
  read -r -a words <<<"${planned[$i]}"
  # ./ makes bun take each as a file path, not as a name filter (rtmp.test.ts would not match rtmp-hevc.test.ts,
  # but ./ says what is meant).
  { echo "${words[1]}"; printf './%s\n' "${words[@]:2}"; for o in ${options[@]+"${options[@]}"}; do echo "$o"; done; } >"$work/$i.args"
done

echo "::: tests (${#planned[@]} bun processes, ${JOBS} at a time)"
seq 0 $((${#planned[@]} - 1)) | xargs -P "$JOBS" -I{} bash -c 'run_job {}'

passed=0 failed=$typecheck_failed
failures=()
: >"$work/timings"
for i in "${!planned[@]}"; do
  if [ ! -s "$work/$i.result" ]; then failed=$((failed + 1)); failures+=("job $i did not report"); continue; fi
  read -r p f rc secs label <"$work/$i.result"
  passed=$((passed + p)) failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then
    failures+=("$label ($f failed, exit $rc)")
    # Again at the end, where a CI log's tail shows it: each failed test with the error bun printed above it.
    echo "::: failure in $label"
    grep -B30 -E '^\(fail\)|^::: killed' "$work/$i.log" | grep -vE '^\(pass\)' | tail -80
  fi
  echo "$secs $label" >>"$work/timings"
done
# Keep durations only from a full run (a selection would forget the others).
[ $# -eq 0 ] && cp "$work/timings" "$TIMINGS"
[ "$typecheck_failed" = 1 ] && failures=("typecheck (tsc --noEmit -p .)" "${failures[@]}")
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "tests: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
