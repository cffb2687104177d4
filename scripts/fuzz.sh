#!/bin/sh
# The libFuzzer targets in fuzz/ (docs/decisions.md, "Fuzzing"), under ASan + UBSan:
#   scripts/fuzz.sh TARGET SECONDS   fuzz one target for SECONDS, then print libFuzzer's stats
#   scripts/fuzz.sh all SECONDS      each target in turn for SECONDS, then a table of them all
#   scripts/fuzz.sh regress          every target once over fuzz/corpus/<target>/ and
#                                    fuzz/regressions/<target>/, no fuzzing (quick: for CI)
#   scripts/fuzz.sh list             the targets
# Builds $BUILD_DIR-fuzz (default build-fuzz; clang++-14, Ninja) first when anything changed, at
# nice 10 with JOBS jobs (default 2). The checked-in corpus is only read: what a run finds goes
# to $BUILD_DIR-fuzz/fuzz-runs/<target>/corpus/, which later runs start from too, and a crash
# input to $BUILD_DIR-fuzz/fuzz-runs/<target>/ (crash-*, leak-*, timeout-*, oom-*), where it
# stays; copy it to fuzz/regressions/<target>/ once the bug is fixed. Exits 1 on a crash.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}-fuzz
JOBS=${JOBS:-2}
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
# A stack with every UBSan report, as ASan gives one.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS
TARGETS="csv_reader jsonl_reader feed_schema gateway_config hub_config envelope http_request normalise"

usage() {
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# The largest input libFuzzer makes, per target: enough for a few records past each of the
# readers' tiny limits, for a whole example config or schema, and for a request head over the
# server's 16 KiB header limit; a name or an NHS number needs little.
max_len() {
  case $1 in
    csv_reader | jsonl_reader) echo 4096 ;;
    feed_schema | gateway_config | hub_config | envelope) echo 8192 ;;
    http_request) echo 20480 ;;
    normalise) echo 256 ;;
  esac
}

build() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    # -O1 -g1 without -DNDEBUG: the libraries' and Boost's assertions stay on while fuzzing.
    nice -n 10 cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DSVD_FUZZ=ON -DSVD_BUILD_TESTS=OFF >/dev/null
  fi
  nice -n 10 cmake --build "$BUILD" -j "$JOBS" --target svd_fuzz >"$BUILD/fuzz-build.log" 2>&1 ||
    { cat "$BUILD/fuzz-build.log" >&2; echo "the fuzz build failed" >&2; exit 1; }
}

known() {
  for t in $TARGETS; do [ "$t" = "$1" ] && return 0; done
  echo "unknown target: $1 (one of: $TARGETS)" >&2
  exit 2
}

# The directories a target reads its seeds from.
seeds() {
  echo "fuzz/corpus/$1"
  [ -d "fuzz/regressions/$1" ] && echo "fuzz/regressions/$1"
  return 0
}

# run TARGET SECONDS: fuzzes, leaves the log in $BUILD/fuzz-runs/TARGET/last.log, and returns
# libFuzzer's status. stdin is /dev/null: a config may name /dev/stdin as a schema file.
run() {
  t=$1 secs=$2 dir=$BUILD/fuzz-runs/$1
  mkdir -p "$dir/corpus"
  # shellcheck disable=SC2046  # seeds() prints directory names without spaces
  nice -n 10 "$BUILD/fuzz/${t}_fuzz" -max_len="$(max_len "$t")" -max_total_time="$secs" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" $(seeds "$t") </dev/null >"$dir/last.log" 2>&1
}

# Figures from a run's log: executions, exec/s, the last coverage count.
stat_of() { sed -n "s/^stat::$2: *//p" "$BUILD/fuzz-runs/$1/last.log" | tail -n 1; }
cov_of() { sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$BUILD/fuzz-runs/$1/last.log" | tail -n 1; }

crashes_of() {
  find "$BUILD/fuzz-runs/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'slow-unit-*' \) -newer "$BUILD/fuzz-runs/$1/started" | sort
}

fuzz_one() {  # target, seconds; prints the stats, returns 1 on a crash
  t=$1
  mkdir -p "$BUILD/fuzz-runs/$t"
  touch "$BUILD/fuzz-runs/$t/started"
  status=0
  run "$t" "$2" || status=$?
  found=$(crashes_of "$t")
  if [ "$status" -ne 0 ] || [ -n "$found" ]; then
    # The report: from the sanitizer's or libFuzzer's first line to the end.
    sed -n '/^==[0-9]*==\|runtime error\|^INFO: a leak\|ALARM: working on the last Unit/,$p' \
      "$BUILD/fuzz-runs/$t/last.log" | head -n 80 >&2
    echo "$t: crashed (exit $status); input kept: ${found:-none written, see $BUILD/fuzz-runs/$t/last.log}" >&2
    return 1
  fi
  grep '^stat::\|DONE' "$BUILD/fuzz-runs/$t/last.log" || true
  return 0
}

[ $# -ge 1 ] || usage
case $1 in
  list)
    for t in $TARGETS; do echo "$t"; done
    ;;
  regress)
    [ $# -eq 1 ] || usage
    build
    failed=""
    for t in $TARGETS; do
      log=$BUILD/fuzz-runs/$t/regress.log
      mkdir -p "$BUILD/fuzz-runs/$t"
      # shellcheck disable=SC2046
      if "$BUILD/fuzz/${t}_fuzz" -runs=0 $(seeds "$t") </dev/null >"$log" 2>&1; then
        echo "$t: $(sed -n 's/.*INFO: seed corpus: files: \([0-9]*\).*/\1/p' "$log" | tail -n 1) inputs, ok"
      else
        sed -n '/^==[0-9]*==\|runtime error\|^INFO: a leak/,$p' "$log" | head -n 80 >&2
        echo "$t: FAILED (log: $log)" >&2
        failed="$failed $t"
      fi
    done
    [ -z "$failed" ] || { echo "regressions failed:$failed" >&2; exit 1; }
    ;;
  all)
    [ $# -eq 2 ] || usage
    build
    table="" failed=""
    for t in $TARGETS; do
      echo "== $t, $2 s" >&2
      crashed=0
      if ! fuzz_one "$t" "$2" >/dev/null; then
        crashed=$(crashes_of "$t" | wc -l)
        [ "$crashed" -gt 0 ] || crashed=1
        failed="$failed $t"
      fi
      table="$table$(printf '%-16s %14s %10s %8s %8s' "$t" "$(stat_of "$t" number_of_executed_units)" \
        "$(stat_of "$t" average_exec_per_sec)" "$(cov_of "$t")" "$crashed")
"
    done
    printf '%-16s %14s %10s %8s %8s\n' target executions exec/s cov crashes
    printf '%s' "$table"
    [ -z "$failed" ] || { echo "crashed:$failed (inputs under $BUILD/fuzz-runs/<target>/)" >&2; exit 1; }
    ;;
  *)
    [ $# -eq 2 ] || usage
    known "$1"
    build
    fuzz_one "$1" "$2"
    ;;
esac
