#!/usr/bin/env bash
# The one command that runs every test of sscard: formatting and lints, the card built for a real chip,
# the whole workspace's tests, and the PC/SC integration tests through pcscd and vpcd.
#
# As root it installs what the PC/SC tests need with apt when it is missing; otherwise those tests are
# left ignored with a printed reason (set SSCARD_REQUIRE_PCSC=1 to make that an error instead).
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
  echo "PC/SC integration tests stay ignored: the stack could not be installed or started (run as root)"
fi

step "tests"
# The PC/SC tests are #[ignore]d ("pcsc: ..."): this run reports them as ignored, not passed.
cargo test --workspace --locked

if [ "$pcsc_ready" = 1 ]; then
  step "PC/SC integration tests (the ignored \"pcsc:\" tests, through pcscd and vpcd)"
  cargo test --locked -p host-tools --test 'pcsc_*' -- --ignored
fi
