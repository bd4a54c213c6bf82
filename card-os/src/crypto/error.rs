//! The one error type of the crypto module and its status word.

/// Why a cryptographic operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Algorithm byte the card does not implement (`02` SSF33, or unknown).
    UnsupportedAlgorithm,
    /// An input has a length the operation does not accept.
    Length,
    /// An input is malformed (e.g. a nibble that is not a BCD digit).
    Format,
    /// A MAC or cryptogram did not match.
    Mismatch,
}

impl Error {
    /// The ISO 7816 status word a command answers with for this error.
    ///
    /// `Mismatch` maps to `6988` (incorrect secure messaging data objects); EXTERNAL
    /// AUTHENTICATE answers `63Cx` instead, because it also counts a try.
    pub const fn status_word(self) -> u16 {
        match self {
            Error::UnsupportedAlgorithm | Error::Format => 0x6A80,
            Error::Length => 0x6700,
            Error::Mismatch => 0x6988,
        }
    }
}
