//! The card's security objects in storage: key objects and the PIN object of each DF's security
//! area, the try counters that guard them, and the challenge generator. The commands that use
//! them are in `commands` (see docs/security.md).

pub mod objects;
pub mod random;
pub mod tries;

pub use objects::{KeyObject, PinObject, Usage};
