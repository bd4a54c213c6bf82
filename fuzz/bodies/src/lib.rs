//! The bodies of sscard's fuzz targets (docs/reliability.md, "Fuzz campaign").
//!
//! Each target is a plain function of the input bytes that panics on a finding: a crash of the code
//! under test, or a broken promise its body checks. libFuzzer runs them through the thin binaries
//! of `fuzz/fuzz_targets/` (`scripts/fuzz.sh`); `tests/replay.rs` runs every seed of
//! `fuzz/corpus/<target>/` and every crash kept in `fuzz/regressions/<target>/` through them as
//! an ordinary test, so the test command checks them without a fuzzer.

pub mod card;
pub mod formats;
pub mod input;
pub mod parsers;
pub mod vpcd;

/// APDU sequences with resets and power cuts on the demo, national 2.0 / 3.0 and PSAM cards.
pub fn card_apdu(data: &[u8]) {
    card::run(data, card::Mode::Intact);
}

/// The same on memory corrupted behind the card's back.
pub fn card_corrupted(data: &[u8]) {
    card::run(data, card::Mode::Corrupted);
}

pub use formats::{expression, layout_toml, vector_file};
pub use parsers::{atr, fcp, hex_input, tlv};
pub use vpcd::vpcd_frame;

/// A fuzz target: its name (the binary, corpus and regression directory) and its body.
pub struct Target {
    pub name: &'static str,
    pub body: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "card_apdu",
        body: card_apdu,
    },
    Target {
        name: "card_corrupted",
        body: card_corrupted,
    },
    Target {
        name: "tlv",
        body: tlv,
    },
    Target {
        name: "atr",
        body: atr,
    },
    Target {
        name: "fcp",
        body: fcp,
    },
    Target {
        name: "hex_input",
        body: hex_input,
    },
    Target {
        name: "layout_toml",
        body: layout_toml,
    },
    Target {
        name: "vector_file",
        body: vector_file,
    },
    Target {
        name: "expression",
        body: expression,
    },
    Target {
        name: "vpcd_frame",
        body: vpcd_frame,
    },
];
