//! A simulated card that can be broken on purpose (docs/diagnostics.md, "Fault catalogue").
//!
//! Two kinds of fault: what the reader sees of a failing chip (no ATR, a garbage ATR, `6F00`
//! everywhere, `6581` on some files, lost or slow answers), injected by one wrapper transport
//! ([`FaultyTransport`]) over any [`CardTransport`](crate::transport::CardTransport); and what is
//! wrong in the card itself (damaged memory, a torn write, a blocked PIN or application, an expired
//! or never activated card, wrong or inconsistent data), built into the card's memory by
//! [`faulty_card`]. And a hostile card for the tests, [`RogueCard`], that breaks the protocol
//! itself (random, empty, missing, overlong or endless answers, a changing ATR, escape sequences).

mod inject;
mod kind;
mod rogue;
mod transport;

pub use inject::{faulty_card, healthy_record, FaultError, MATRIX_TODAY};
pub use kind::{parse_list, FaultKind, UnknownFault};
pub use rogue::{RogueCard, RogueMode, UnknownRogueMode, HOSTILE_TEXT};
pub use transport::{FaultyTransport, PullAt, TransportFaults, SLOW_DELAY};
