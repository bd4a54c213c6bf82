//! The simulator as a real PC/SC reader: a client of vsmartcard's vpcd driver (see docs/pcsc.md).
//!
//! pcscd loads vpcd, which listens on 127.0.0.1:35963 (reader "Virtual PCD 00 00") and 35964
//! ("Virtual PCD 00 01"). [`serve`] connects a [`CardTransport`](crate::transport::CardTransport)
//! there, so every PC/SC program on the machine sees it as a card in a reader. The protocol loop is
//! written here rather than taken from a crate because it must set TCP_QUICKACK after every header
//! (or each APDU takes ~40 ms), carry 65,535-byte messages, time out, and treat a close as removal.

mod control;
mod echo;
mod error;
mod events;
mod frame;
mod options;
mod serve;
mod session;

pub use control::ServeControl;
pub use echo::{EchoCard, ECHO_ATR};
pub use error::VpcdError;
pub use events::{PowerChange, RemovalCause, ServeEvent, ServeSummary};
pub use frame::MAX_MESSAGE_LEN;
pub use options::{ServeOptions, FIRST_SLOT_PORT, MIN_REINSERT_DELAY, SECOND_SLOT_PORT};
pub use serve::{serve, serve_with_events};

#[cfg(test)]
mod tests;
