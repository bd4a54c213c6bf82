//! "A card in a reader": the one trait every operation talks through.
//!
//! Implementations are dumb byte pipes (PC/SC, the in-process simulator, ...): all APDU protocol logic
//! (61xx / GET RESPONSE, 6Cxx, chaining, extended length) lives once in the client layer above them.

pub mod bounded;
pub mod faults;
pub mod image;
pub mod pcsc;
#[cfg(test)]
pub(crate) mod scripted;
pub mod sim;
pub mod simcard;
pub mod trace;
pub mod vpcd;

/// How a card is reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// Power cycle: volatile state lost, as when the card is re-inserted.
    Cold,
    /// Warm reset (RST line): volatile state lost, power stays on.
    Warm,
}

/// Why a transport could not do what was asked. Each variant is one sentence for a person.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the PC/SC service is not running (start pcscd)")]
    ServiceUnavailable,
    #[error("no card reader is connected")]
    NoReader,
    #[error("no reader named or numbered {0:?}")]
    ReaderNotFound(String),
    #[error("more than one reader's name contains {0:?}: give more of the name or its number")]
    ReaderAmbiguous(String),
    #[error("no card in the reader")]
    NoCard,
    #[error("the card does not answer (no ATR): the chip may be dead or its contacts dirty")]
    CardUnresponsive,
    #[error(
        "the card's answer to reset (ATR) cannot be used to talk to it: the chip may be damaged"
    )]
    UnusableAtr,
    #[error("the card does not answer: nothing came back within {0} ms (--answer-timeout)")]
    NoAnswer(u64),
    #[error("the PC/SC service does not answer within {0} ms: pcscd may be hung (restart it)")]
    ServiceNoAnswer(u64),
    #[error("the card was removed")]
    CardRemoved,
    #[error("the card was reset by another program; sscard reconnected, but the command must be run again")]
    CardReset,
    #[error("the card is in use by another program")]
    CardInUse,
    #[error("the reader was unplugged or is no longer available")]
    ReaderGone,
    #[error("timed out after {0} ms waiting for the card")]
    Timeout(u64),
    #[error("the card answered with {0} byte(s), fewer than a status word")]
    ShortResponse(usize),
    #[error("the card image {path} is damaged: {reason}")]
    DamagedImage {
        path: String,
        reason: image::ImageError,
    },
    #[error("could not read or write the card image {path}: {source}")]
    ImageIo {
        path: String,
        source: std::io::Error,
    },
    #[error("the card image {path} is in use by {}: one program at a time may use a card image", owner_words(.owner))]
    ImageInUse {
        path: String,
        /// The owner's process id, as it recorded it (absent for a moment after it got the image).
        owner: Option<u32>,
    },
    #[error("the card image {path} is read-only ({reason}), and sscard does not change a read-only image: nothing was saved")]
    ImageReadOnly {
        path: String,
        reason: image::ReadOnly,
    },
    #[error("the PC/SC layer failed: {0}")]
    Pcsc(#[source] ::pcsc::Error),
    #[error("the simulated card does not start: {0}")]
    SimulatorPowerOn(card_os::PowerOnError),
    #[error("could not write the APDU trace: {0}")]
    Trace(#[source] std::io::Error),
    #[error("input/output error: {0}")]
    Io(#[from] std::io::Error),
}

fn owner_words(owner: &Option<u32>) -> String {
    match owner {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_string(),
    }
}

/// A card in a reader. Implementations transmit bytes and nothing more.
pub trait CardTransport {
    /// A short human name for where the card is, e.g. the reader name or "simulator".
    fn name(&self) -> String;
    /// The card's ATR as of the last power-on or reset.
    fn atr(&self) -> Vec<u8>;
    /// Sends one command APDU and returns the raw response APDU (data and SW1 SW2, at least 2 bytes).
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// Resets the card and returns its new ATR.
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError>;
    /// Powers the card down (or releases it); a later `reset(Cold)` powers it up again.
    fn power_off(&mut self) -> Result<(), TransportError>;
    /// Whether the card is still there as this transport left it (not removed, reset or powered
    /// down since), asked without an APDU; for a connection kept between operations. Transports
    /// that cannot lose their card answer Ok.
    fn check(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A boxed transport is a transport, so a command can pick PC/SC or the simulator at run time.
impl<T: CardTransport + ?Sized> CardTransport for Box<T> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn atr(&self) -> Vec<u8> {
        (**self).atr()
    }
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn reset(&mut self, kind: ResetKind) -> Result<Vec<u8>, TransportError> {
        (**self).reset(kind)
    }
    fn power_off(&mut self) -> Result<(), TransportError> {
        (**self).power_off()
    }
    fn check(&mut self) -> Result<(), TransportError> {
        (**self).check()
    }
}
