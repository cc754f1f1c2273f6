#!/usr/bin/env bash
# Coverage-guided fuzzing of Sonica's input parsers (cargo-fuzz/libFuzzer).
#
#   benches/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 60); TARGETs default to all of them:
# decode ws_stream codecs analysis search_params multipart (fuzz/README.md
# says what each covers). Targets run one after another, each for SECONDS
# wall-clock, then a table is printed: target, seconds, executions (summed
# from libFuzzer's `stat::number_of_executed_units`), exec/s, and the
# crash/oom/timeout/leak files found in fuzz/artifacts/<target>/ (new in
# this run / all there). A crash ends a libFuzzer run; the target is then
# restarted on the same corpus until its time is used, so one finding does
# not cut the run short (at most 100 restarts). The script always stops by
# itself; a target can overrun SECONDS by the time libFuzzer takes to replay
# its corpus at start (decode: ~30 s once the corpus has grown to ~800 files).
#
# Needs the nightly toolchain (`rustup toolchain install nightly`);
# installs cargo-fuzz when it is missing. The seed corpus (fuzz/seeds/<t>,
# plus tests/fixtures/* for decode) is copied into fuzz/corpus/<t>, which
# is kept between runs and is not committed. Logs: fuzz/target/logs/.
#
# Env: FUZZ_JOBS, cargo build jobs (default 2); FUZZ_NO_BUILD=1 to run the
# binaries already built; FUZZ_ARGS, extra libFuzzer flags.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$here/fuzz"
secs="${1:-60}"
[[ $# -gt 0 ]] && shift
all=(decode ws_stream codecs analysis search_params multipart web_inputs monitor_inputs)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { echo "SECONDS must be a positive whole number, not $secs" >&2; exit 2; }

rustup toolchain list | grep -q '^nightly' || { echo "needs the nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Release build with debug assertions, overflow checks and AddressSanitizer
# (cargo-fuzz's defaults); 16 codegen units build much faster on 2 cores.
# cargo-fuzz does not pass -Cpanic=abort: panics unwind, so Sonica's own
# catch_unwind (src/decode) still works; libfuzzer-sys's panic hook aborts
# on any panic that reaches it.
if [[ "${FUZZ_NO_BUILD:-}" != 1 ]]; then
  # `cargo fuzz build` takes one target, or none for all of them.
  build=("")
  [[ ${#targets[@]} -lt ${#all[@]} ]] && build=("${targets[@]}")
  for b in "${build[@]}"; do
    (cd "$here" && CARGO_BUILD_JOBS="${FUZZ_JOBS:-2}" cargo +nightly fuzz build --codegen-units 16 $b) >"$fuzz/build.log" 2>&1 ||
      { tail -20 "$fuzz/build.log" >&2; echo "fuzz build failed (fuzz/build.log)" >&2; exit 1; }
  done
fi
bin="$fuzz/target/x86_64-unknown-linux-gnu/release"
logs="$fuzz/target/logs"
mkdir -p "$logs"

findings() { # files libFuzzer leaves for a crash, an OOM, a timeout or a leak
  find "$fuzz/artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) 2>/dev/null | wc -l
}

rows=()
for t in "${targets[@]}"; do
  [[ -x "$bin/$t" ]] || { echo "no fuzz binary $bin/$t (unknown target?)" >&2; exit 1; }
  corpus="$fuzz/corpus/$t"
  art="$fuzz/artifacts/$t"
  mkdir -p "$corpus" "$art"
  [[ -d "$fuzz/seeds/$t" ]] && cp -n "$fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true
  if [[ "$t" == decode ]]; then
    find "$here/tests/fixtures" -maxdepth 1 -type f -exec cp -n {} "$corpus"/ \;
  fi
  before=$(findings "$t")
  execs=0
  runs=0
  start=$(date +%s)
  log="$logs/$t.log"
  : >"$log"
  while :; do
    left=$((secs - ($(date +%s) - start)))
    ((left >= 2 && runs < 100)) || break
    runs=$((runs + 1))
    rc=0
    # `timeout` backs up -max_total_time (which is checked between inputs).
    timeout -k 10 $((left + 30)) "$bin/$t" "$corpus" \
      -max_total_time="$left" -print_final_stats=1 \
      -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
      -artifact_prefix="$art/" ${FUZZ_ARGS:-} >>"$log" 2>&1 || rc=$?
    n=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
    execs=$((execs + ${n:-0}))
    # Only this run's stats count next time round.
    echo "--- run $runs ended rc=$rc" >>"$log"
    sed -i 's/stat::number_of_executed_units/stat::counted_executed_units/' "$log"
    ((rc == 0)) && break
  done
  took=$(($(date +%s) - start))
  after=$(findings "$t")
  rows+=("$t $took $execs $((execs / (took > 0 ? took : 1))) $((after - before))/$after $runs")
  rm -rf /dev/shm/sonica-fuzz-*-[0-9]* 2>/dev/null || true
done

printf '\n%-14s %8s %12s %8s %12s %5s\n' target seconds executions exec/s 'findings' runs
for r in "${rows[@]}"; do
  # shellcheck disable=SC2086
  printf '%-14s %8s %12s %8s %12s %5s\n' $r
done
echo "(findings: new in this run / all in fuzz/artifacts/<target>/; logs in $logs)"
