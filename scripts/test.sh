#!/usr/bin/env bash
# The one command that runs every test of sscard: formatting and lints, the card built for a real chip,
# the whole workspace's tests, and the PC/SC integration tests through pcscd and vpcd.
#
# As root it installs what the PC/SC tests need with apt when it is missing; otherwise those tests are
# skipped with a printed reason (set SSCARD_REQUIRE_PCSC=1 to make that an error instead). The same for
# the browser the counter page is tested in (chromium; SSCARD_REQUIRE_BROWSER=1).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

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

pcsc_ready=0
stack=scripts/pcsc-stack.sh
step "PC/SC stack (pcscd + vpcd; see docs/pcsc.md)"
if "$stack" install --dev; then
  if "$stack" status >/dev/null 2>&1; then
    pcsc_ready=1
  elif "$stack" start; then
    pcsc_ready=1
    trap '"$stack" stop || true' EXIT
  fi
fi
if [ "$pcsc_ready" = 0 ]; then
  if [ "${SSCARD_REQUIRE_PCSC:-0}" = 1 ]; then
    echo "the PC/SC stack is required (SSCARD_REQUIRE_PCSC=1) but could not be installed or started" >&2
    exit 1
  fi
  echo "PC/SC integration tests will be skipped: the stack could not be installed or started (run as root)"
fi

step "tests"
if [ "$pcsc_ready" = 1 ]; then
  SSCARD_PCSC_TESTS=1 cargo test --workspace --locked
else
  cargo test --workspace --locked
fi

step "the counter page in headless Chromium (the web bridge; docs/reader-interface.md)"
if scripts/browser-stack.sh install; then
  cargo test -p host-tools --locked --test services_e2e -- --ignored
else
  if [ "${SSCARD_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "the browser tests are required (SSCARD_REQUIRE_BROWSER=1) but chromium could not be installed" >&2
    exit 1
  fi
  echo "browser tests skipped: chromium is missing and could not be installed (run as root)"
fi
