//! The social security card (社会保障卡) as a `no_std`, no-heap card operating system.
//!
//! See `docs/card-os.md` for the contract: storage layout, journal, commands and status words.
#![no_std]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod crypto;
