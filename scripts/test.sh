#!/usr/bin/env bash
# The one command that runs every test of sscard: formatting and lints, the card built for a real chip,
# the main job, the whole workspace's tests, the fuzz targets' build, and the tests that need a
# service or a program from outside Rust:
#
#   pcsc:     through pcscd and vsmartcard's vpcd (scripts/pcsc-stack.sh)
#   library:  libSSCardDriver.so from C and Python (needs the built library, a C compiler, python3)
#   browser:  pages in headless Chromium (scripts/browser-stack.sh)
#   postgres: the back office on PostgreSQL (scripts/postgres-stack.sh; SQLite runs in every run)
#
# Those tests are #[ignore]d with a reason naming their group, so a plain `cargo test` reports them
# as ignored, not as passed. As root this script installs what a group needs (Debian packages) and
# starts its service without systemd, runs the group, and stops what it started. Not as root, a group
# whose service cannot be had is skipped with a printed reason; SSCARD_REQUIRE_SERVICES=1 makes that
# an error (SSCARD_REQUIRE_PCSC=1, SSCARD_REQUIRE_BROWSER=1, SSCARD_REQUIRE_POSTGRES=1 for one group).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# What this script started, stopped on exit whatever happens.
cleanups=()
cleanup() {
  local i
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do
    eval "${cleanups[i]}" || true
  done
}
trap cleanup EXIT

skipped=()
skip_group() { # group, reason, the variable that makes a skip an error
  local group=$1 reason=$2 require=${3:-}
  if [ "${SSCARD_REQUIRE_SERVICES:-0}" = 1 ] || { [ -n "$require" ] && [ "${!require:-0}" = 1 ]; }; then
    echo "the $group tests are required but cannot run: $reason" >&2
    exit 1
  fi
  echo "SKIPPED: the $group tests: $reason"
  skipped+=("$group ($reason)")
}

step "formatting"
cargo fmt --all -- --check

step "lints (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "card-os for a real chip (thumbv7em-none-eabi)"
rustup target add thumbv7em-none-eabi >/dev/null 2>&1 || true
cargo build -p card-os --release --locked --target thumbv7em-none-eabi
scripts/footprint.sh

step "main job on the embedded simulator (release build, no PC/SC development package needed)"
cargo run --release --locked -q -- demo >/dev/null

step "services the ignored test groups need"
pcsc_ready=0
stack=scripts/pcsc-stack.sh
if "$stack" install --dev; then
  if "$stack" status >/dev/null 2>&1; then
    pcsc_ready=1
  elif "$stack" start; then
    pcsc_ready=1
    cleanups+=('"$stack" stop')
  fi
fi
[ "$pcsc_ready" = 1 ] || skip_group pcsc "pcscd and vpcd could not be installed or started (run as root)" SSCARD_REQUIRE_PCSC

browser_ready=0
if scripts/browser-stack.sh install; then
  browser_ready=1
else
  skip_group browser "chromium is missing and could not be installed (run as root)" SSCARD_REQUIRE_BROWSER
fi

postgres_ready=0
if scripts/postgres-stack.sh install && scripts/postgres-stack.sh start >/dev/null; then
  postgres_ready=1
  cleanups+=('scripts/postgres-stack.sh stop')
else
  skip_group postgres "PostgreSQL could not be installed or started (run as root)" SSCARD_REQUIRE_POSTGRES
fi

step "tests (the workspace; service groups are reported as ignored here and run below)"
cargo test --workspace --locked

step "fuzz targets build (libFuzzer binaries; their corpora were replayed by the tests above)"
scripts/fuzz.sh check

step "library: libSSCardDriver.so from a C program and a Python ctypes script"
cargo build --locked -p sscard-driver
if command -v cc >/dev/null && command -v python3 >/dev/null; then
  cargo test --locked -p sscard-driver --test programs -- --ignored
else
  skip_group library "a C compiler (cc) or python3 is missing"
fi

if [ "$pcsc_ready" = 1 ]; then
  step "pcsc: through pcscd and vpcd"
  cargo test --locked -p host-tools --no-fail-fast --test 'pcsc_*' -- --ignored
  cargo test --locked -p sscard-driver --test pcsc_driver -- --ignored
fi

if [ "$browser_ready" = 1 ]; then
  step "browser: pages in headless Chromium"
  cargo test --locked -p host-tools --test services_e2e -- --ignored
  cargo test --locked -p sscard-platform --test admin_page -- --ignored
  cargo test --locked -p sscard-platform --test ecard_pages -- --ignored
fi

if [ "$postgres_ready" = 1 ]; then
  step "postgres: the back office's tests on PostgreSQL"
  SSCARD_TEST_POSTGRES_URL=$(scripts/postgres-stack.sh url)
  export SSCARD_TEST_POSTGRES_URL
  cargo test --locked -p sscard-platform -- --ignored postgres
  cargo test --locked -p host-tools --test platform_service --test platform_settle -- --ignored postgres
fi

step "done"
if [ ${#skipped[@]} -eq 0 ]; then
  echo "every test group ran"
else
  printf 'skipped: %s\n' "${skipped[@]}"
fi
