#!/bin/sh
# Builds libSSCardDriver.so (release) and installs the library, its header and its pkg-config
# files under PREFIX (default /usr/local): PREFIX/lib/libSSCardDriver.so,
# PREFIX/include/SSCardDriver.h, PREFIX/lib/pkgconfig/{SSCardDriver,sscard-driver}.pc.
# Usage: scripts/install-driver.sh [PREFIX]      (DESTDIR is honoured for packaging)
set -eu
prefix=${1:-/usr/local}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release -p sscard-driver
dest=${DESTDIR:-}$prefix
install -d "$dest/lib/pkgconfig" "$dest/include"
install -m 0755 target/release/libSSCardDriver.so "$dest/lib/libSSCardDriver.so"
install -m 0644 host-tools/driver/include/SSCardDriver.h "$dest/include/SSCardDriver.h"
sed "s|@PREFIX@|$prefix|" host-tools/driver/SSCardDriver.pc.in > "$dest/lib/pkgconfig/SSCardDriver.pc"
cp "$dest/lib/pkgconfig/SSCardDriver.pc" "$dest/lib/pkgconfig/sscard-driver.pc"
echo "installed libSSCardDriver under $dest; put SSCardDriver.toml beside the library or set SSCARD_DRIVER_CONFIG"
