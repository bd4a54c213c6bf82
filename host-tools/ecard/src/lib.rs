//! The electronic social security card's QR codes, in this project's own format (the national
//! format is not public): short-lived, signed by the platform with SM2 over SM3, bound to one
//! e-card, refused after their validity, on a replay, or once the card is blocked.
//!
//! - [`Signer`] issues codes ([`Claims`] → `SSC1:…` text) with the platform's
//!   [`PlatformSecretKey`];
//! - [`verify_offline`] checks a code with the platform's [`PublicKeySet`] and a cached
//!   [`Blacklist`], and [`admit`] with a [`ReplayGuard`]; each failure is one [`Refusal`];
//! - [`render`] draws a code for a terminal, as SVG and as PNG.
//!
//! A plain library: no database, no network. The back office stores what it needs and calls
//! this crate; docs/electronic-card.md describes the format and the rules.

#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable
    )
)]

mod base32;
pub mod blacklist;
mod ids;
pub mod keys;
pub mod payload;
pub mod render;
pub mod replay;
mod signer;
pub mod verify;

pub use base32::Base32Error;
pub use blacklist::{
    Blacklist, BlacklistChange, BlacklistDelta, BlacklistEntry, BlockReason, CardNumber, DeltaError,
};
pub use ids::{EcardId, EcardIdFormError, KeyId, KeyIdFormError, Purpose, UnixTime};
pub use keys::{KeyError, PlatformPublicKey, PlatformSecretKey, PublicKeySet, DISTINGUISHING_ID};
pub use payload::{Claims, Malformed, Nonce, PREFIX};
pub use replay::{FirstUse, MemoryReplayGuard, ReplayGuard, ReplayGuardFull};
pub use signer::{IssueError, Signer, DEFAULT_VALIDITY_SECS};
pub use verify::{
    admit, check_blacklist, check_validity, verify_and_admit, verify_offline, verify_offline_with,
    verify_signature, Refusal, VerifiedCode, VerifyPolicy,
};
