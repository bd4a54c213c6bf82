#!/usr/bin/env bash
# The headless browser the counter page's tests use (docs/reader-interface.md, "The web bridge"):
# Debian's chromium. `install` installs it with apt when missing (root only); `check` says whether it
# is there and prints the path; both exit non-zero with a reason when it cannot be had.
set -euo pipefail

find_browser() {
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

case "${1:-check}" in
  check)
    if path=$(find_browser); then
      echo "$path"
    else
      echo "chromium is not installed (scripts/browser-stack.sh install, as root)" >&2
      exit 1
    fi
    ;;
  install)
    if path=$(find_browser); then
      echo "$path"
      exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
      echo "chromium is not installed and installing it needs root (apt-get install chromium)" >&2
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Another apt (the PC/SC stack's install) may hold the lock: wait for it, within a bound.
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
    find_browser
    ;;
  *)
    echo "usage: $0 install|check" >&2
    exit 2
    ;;
esac
