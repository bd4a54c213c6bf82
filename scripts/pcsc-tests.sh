#!/usr/bin/env bash
# The tests through the real PC/SC stack (host-tools/tests/pcsc_*.rs): installs the stack when
# missing (as root), starts pcscd unless it is already up, runs the tests with SSCARD_PCSC_TESTS=1,
# and stops the pcscd it started, also on failure. Extra arguments go to `cargo test`.
# Exit codes: those of pcsc-stack.sh (3: packages missing and not root), else cargo test's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stack=$here/pcsc-stack.sh

"$stack" install
if "$stack" status >/dev/null; then
    started_here=false
else
    "$stack" start
    started_here=true
fi
stop_stack() {
    if [[ $started_here == true ]]; then
        "$stack" stop || true
    fi
}
trap stop_stack EXIT

cd "$here/.."
SSCARD_PCSC_TESTS=1 cargo test -p host-tools --no-fail-fast --test 'pcsc_*' "$@"
# libSSCardDriver through the stack (its tests are #[ignore]d outside it).
SSCARD_PCSC_TESTS=1 cargo test -p sscard-driver --no-fail-fast --test pcsc_driver -- --ignored
