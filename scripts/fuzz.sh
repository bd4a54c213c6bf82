#!/usr/bin/env bash
# sscard's fuzz targets (docs/reliability.md, "Fuzz campaign"): libFuzzer through cargo-fuzz, on
# the stable toolchain. The target bodies live in fuzz/bodies (replayed by `cargo test`); the
# binaries in fuzz/fuzz_targets only call them.
#
#   scripts/fuzz.sh list                     the targets
#   scripts/fuzz.sh build [TARGET]           the libFuzzer binaries, instrumented (needs cargo-fuzz:
#                                            cargo install cargo-fuzz)
#   scripts/fuzz.sh check                    the same binaries built by plain cargo, without
#                                            cargo-fuzz, sharing target/ with the workspace: what the
#                                            test command runs so the targets cannot rot
#   scripts/fuzz.sh run TARGET SECONDS [--keep-going] [libFuzzer options...]
#                                            one campaign; new inputs go to fuzz/runs/TARGET, crashes
#                                            to fuzz/artifacts/TARGET, the log to fuzz/runs/TARGET.log
#   scripts/fuzz.sh campaign SECONDS         every target in turn, SECONDS each
#
# No sanitizer (-s none): AddressSanitizer needs a nightly-only rustc flag, and the code under test
# is safe Rust, where a panic (overflow, slice bounds, a broken assertion of the body) is what a
# bug looks like; cargo fuzz builds with debug assertions and overflow checks on.
# --keep-going runs libFuzzer's fork mode, which goes on after a crash (and records each).
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="fuzz/target/$host/release"

targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sscard-fuzz$'
}

need_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz (or use '$0 check' to build without it)" >&2
    exit 2
  fi
}

build() {
  need_cargo_fuzz
  cargo fuzz build -s none "$@"
}

run() {
  local target=$1 seconds=$2
  shift 2
  local extra=()
  if [ "${1:-}" = --keep-going ]; then
    extra=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    shift
  fi
  targets | grep -qx "$target" || { echo "no fuzz target $target (see: $0 list)" >&2; exit 2; }
  build "$target"
  mkdir -p "fuzz/runs/$target" "fuzz/artifacts/$target"
  local log="fuzz/runs/$target.log"
  echo "==> $target for ${seconds}s (log: $log)"
  # The committed corpus is read, never written: new inputs go to runs/, the first directory.
  set +e
  "$bin_dir/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/" "${extra[@]}" "$@" \
    "fuzz/runs/$target" "fuzz/corpus/$target" >"$log" 2>&1
  local status=$?
  set -e
  summary "$target" "$log"
  return $status
}

# One line: executions, coverage (cov = edges, ft = features), corpus, crashes kept.
summary() {
  local target=$1 log=$2
  local last execs crashes
  last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "fuzz/artifacts/$target" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  echo "$target: executions ${execs:-?}; $(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$last" || echo 'cov: ? ft: ?'); crashes, ooms, timeouts kept: $crashes"
}

case "${1:-}" in
  list) targets ;;
  build) shift; build "$@" ;;
  check)
    cargo build --manifest-path fuzz/Cargo.toml --target-dir target --locked --bins
    ;;
  run)
    [ $# -ge 3 ] || { echo "usage: $0 run TARGET SECONDS [--keep-going] [libFuzzer options...]" >&2; exit 2; }
    shift
    run "$@"
    ;;
  campaign)
    [ $# -eq 2 ] || { echo "usage: $0 campaign SECONDS" >&2; exit 2; }
    build
    failed=0
    for target in $(targets); do
      run "$target" "$2" || failed=1
    done
    exit $failed
    ;;
  *)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
