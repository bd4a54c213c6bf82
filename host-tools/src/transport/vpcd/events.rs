//! What the serve loop reports as it goes, for a log or a progress line, and what it did in total.

use std::io;
use std::time::Duration;

use super::VpcdError;
use crate::transport::TransportError;

/// One thing that happened while serving.
#[derive(Debug)]
pub enum ServeEvent {
    /// Connected to vpcd: the card is in the reader.
    Inserted { port: u16 },
    /// vpcd could not be reached; the next try is in `retry_in`.
    ConnectFailed {
        port: u16,
        error: io::Error,
        retry_in: Duration,
    },
    /// vpcd powered the card off or on, or reset it.
    Power(PowerChange),
    /// vpcd sent a one-byte code this loop does not know; it was ignored.
    UnknownControl(u8),
    /// The card left the reader.
    Removed(RemovalCause),
    /// Powering the card off as it left the reader failed.
    PowerOffFailed(TransportError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerChange {
    Off,
    On,
    WarmReset,
}

/// Why the card left the reader.
#[derive(Debug)]
pub enum RemovalCause {
    /// vpcd closed the connection (pcscd stopped or restarted).
    VpcdClosed,
    /// [`ServeControl::remove_card`](super::ServeControl::remove_card) or a toggle.
    OnCommand,
    /// `remove_after` elapsed.
    Timer,
    /// The loop was stopped.
    Stopped,
    /// The card gave no ATR when vpcd asked for one (a mute chip). vpcd takes an empty ATR for a
    /// removed card and never talks to that connection again, so the loop puts the card back at
    /// once: pcscd keeps seeing a card in the reader, present and mute (docs/pcsc.md).
    NoAtr,
    /// The connection or the card failed; see the error.
    Failed(VpcdError),
}

/// What one `serve` call did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeSummary {
    /// How many times the card went into the reader (connections to vpcd).
    pub insertions: u64,
    /// How many command APDUs the card answered.
    pub apdus: u64,
}
