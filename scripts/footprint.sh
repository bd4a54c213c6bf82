#!/usr/bin/env bash
# Links the card into a bare-metal thumbv7em image (card-os/footprint) and checks it fits a chip:
# flash (text) at most 64 KiB, static RAM (data + bss) at most 4 KiB. Prints the numbers.
# The guard was 48 KiB until the medical purse (CLA B0, docs/settlement.md) added about 8 KB of
# commands and MAC rules (44,828 -> 52,918 bytes; 54,850 with the PSAM side). Card chips for this market carry far more
# non-volatile memory than that; 64 KiB of code is the next common flash size and still leaves the
# guard tight enough to catch an accidental doubling (docs/performance.md, "Footprint").
set -euo pipefail
cd "$(dirname "$0")/.."

flash_limit=$((64 * 1024))
ram_limit=$((4 * 1024))
manifest=card-os/footprint/Cargo.toml
image=card-os/footprint/target/thumbv7em-none-eabi/release/card-os-footprint

cargo build -q --manifest-path "$manifest" --release --target thumbv7em-none-eabi \
  --target-dir card-os/footprint/target
read -r text data bss _ < <(size "$image" | tail -n 1)
ram=$((data + bss))
echo "card-os on thumbv7em-none-eabi: flash ${text} bytes (limit ${flash_limit}), static RAM ${ram} bytes (limit ${ram_limit})"
if [ "$text" -gt "$flash_limit" ] || [ "$ram" -gt "$ram_limit" ]; then
  echo "the card no longer fits the chip's budget" >&2
  exit 1
fi
