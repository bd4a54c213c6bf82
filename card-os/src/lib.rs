//! The social security card (社会保障卡) as a `no_std`, no-heap card operating system.
//!
//! See `docs/card-os.md` for the contract: memory map, journal, commands and status words.
#![no_std]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(test)]
extern crate std;

pub mod access;
pub mod apdu;
pub mod atr;
pub mod card;
mod commands;
pub mod crypto;
pub mod data_tags;
#[cfg(feature = "demo")]
pub mod demo;
pub mod fs;
pub mod instructions;
pub mod journal;
pub mod memory_map;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod response;
pub mod restriction;
pub mod security;
pub mod storage;
pub mod sw;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tlv;
mod transmission;
pub mod volatile;

pub use apdu::{Cla, Command};
pub use card::{Card, PowerOnError, PowerOnFailure};
pub use fs::{format, FormatError, FormatParams};
pub use memory_map::{CHAIN_MAX, MAX_RESPONSE};
pub use storage::{RamStorage, Storage, StorageError};
pub use sw::Status;
pub use volatile::{SecurityStatus, Volatile};
