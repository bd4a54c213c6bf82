//! What `sscard sim serve` can be told: one field per command-line flag.

use std::time::Duration;

use super::ServeControl;

/// vpcd's first slot, the reader "Virtual PCD 00 00".
pub const FIRST_SLOT_PORT: u16 = 35963;
/// vpcd's second slot, the reader "Virtual PCD 00 01" (Debian's build has two).
pub const SECOND_SLOT_PORT: u16 = 35964;
/// The shortest time a card stays out of the reader: re-inserting sooner can leave pcscd's reader
/// stuck at "card removed".
pub const MIN_REINSERT_DELAY: Duration = Duration::from_secs(1);

/// How long vpcd may be silent by default: 25 of its presence polls.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to serve a card to vpcd. The host is always 127.0.0.1.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// vpcd's port: [`FIRST_SLOT_PORT`] or [`SECOND_SLOT_PORT`] (`--port`).
    pub port: u16,
    /// How long one connection attempt may take (`--connect-timeout`).
    pub connect_timeout: Duration,
    /// How long the rest of a message may take once it has begun, and a write (`--io-timeout`).
    pub io_timeout: Duration,
    /// How long vpcd may send nothing at all before the connection is taken for dead and made
    /// again: vpcd asks for the ATR every 400 ms while it is alive (`--silence-timeout`).
    pub silence_timeout: Duration,
    /// The first wait after vpcd is not there or went away; it doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Fail with [`VpcdError::Unreachable`](super::VpcdError::Unreachable) when vpcd cannot be
    /// reached for this long; `None` retries until stopped (`--give-up-after`).
    pub give_up_after: Option<Duration>,
    /// Pull the card once, this long after it is first inserted (`--remove-after`).
    pub remove_after: Option<Duration>,
    /// How long a card pulled by `remove_after` stays out; at least [`MIN_REINSERT_DELAY`]
    /// (`--reinsert-after`).
    pub reinsert_after: Duration,
    /// Stop, pull and re-insert from elsewhere (a signal handler, a test).
    pub control: ServeControl,
}

impl ServeOptions {
    /// The defaults for `port`.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            ..Self::default()
        }
    }
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            port: FIRST_SLOT_PORT,
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(5),
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            give_up_after: None,
            remove_after: None,
            reinsert_after: MIN_REINSERT_DELAY,
            control: ServeControl::new(),
        }
    }
}
