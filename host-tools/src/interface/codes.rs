//! The return codes of the national interface (appendix A of the spec, docs/reader-interface.md)
//! and the one failure type every function returns: a code and a sentence for pOutInfo.

use crate::protocol::apdu::Status;
use crate::protocol::client::ClientError;
use crate::transport::TransportError;

pub const OK: i64 = 0;
pub const WRONG_CARD_TYPE: i64 = -1;
pub const NO_CARD: i64 = -2;
pub const CARD_NOT_POWERED: i64 = -3;
pub const CARD_SILENT: i64 = -4;
/// The library cannot work: its configuration is missing or wrong (this driver's choice of −5).
pub const CANNOT_LOAD: i64 = -5;
pub const READER_ERROR: i64 = -11;
pub const NO_CONNECTION: i64 = -12;
pub const NOT_SUPPORTED: i64 = -13;
pub const BAD_PARAMETER: i64 = -14;
pub const BAD_CHECKSUM: i64 = -15;
pub const CARD_ID_FORMAT: i64 = -20;
pub const FAKE_CARD: i64 = -21;
pub const DATA_DIFFERS: i64 = -22;
pub const ILLEGAL_DATA: i64 = -23;
pub const PSAM_LEVEL_LOW: i64 = -24;
pub const PIN_CANCELLED: i64 = -31;
pub const PIN_TIMEOUT: i64 = -32;
pub const PIN_LENGTH: i64 = -33;
pub const PINS_DIFFER: i64 = -34;
pub const INITIAL_PIN: i64 = -35;
pub const TO_INITIAL_PIN: i64 = -36;
pub const ILLEGAL_CHARACTERS: i64 = -41;
pub const ILLEGAL_LENGTH: i64 = -42;
pub const PIN_WRONG: i64 = -51;
pub const PIN_BLOCKED: i64 = -52;
pub const NO_PSAM: i64 = -2201;
pub const PSAM_NO_ALGORITHM: i64 = -2202;
pub const PSAM_NO_KEY: i64 = -2203;
pub const NO_HSM_NEEDED: i64 = -2204;

/// The code of a card status word: the SW negated as an unsigned 16-bit number (6A82 → −27266).
pub fn of_sw(sw: u16) -> i64 {
    -i64::from(sw)
}

/// A function that did not succeed: its code and the sentence written to pOutInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i64,
    pub message: String,
}

impl Failure {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A card's refusal of `command`: the SW's own code and its ISO meaning.
    pub fn card(command: &str, sw: Status) -> Self {
        let raw = sw.to_u16();
        Failure::new(
            of_sw(raw),
            format!(
                "the card refused {command}: {}",
                crate::protocol::sw::explain(sw)
            ),
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The code for a reader or card that failed below the level of status words.
pub fn of_transport(error: &TransportError) -> i64 {
    match error {
        TransportError::NoCard | TransportError::Timeout(_) | TransportError::CardRemoved => {
            NO_CARD
        }
        TransportError::CardUnresponsive
        | TransportError::ShortResponse(_)
        | TransportError::SimulatorPowerOn(_) => CARD_SILENT,
        TransportError::CardReset => CARD_NOT_POWERED,
        TransportError::CardInUse | TransportError::ImageInUse { .. } => NO_CONNECTION,
        _ => READER_ERROR,
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match &e {
            ClientError::Transport(t) => of_transport(t),
            _ => CARD_SILENT,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::new(of_transport(&e), e.to_string())
    }
}

/// What a function returns to the interface: the text of pOutInfo on success.
pub type Outcome = Result<String, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words_are_negated_as_unsigned_sixteen_bit_numbers() {
        assert_eq!(of_sw(0x6A82), -27266);
        assert_eq!(of_sw(0x6982), -27010);
        assert_eq!(of_sw(0x9302), -37634);
        assert_eq!(of_sw(0x9303), -37635);
        assert_eq!(of_sw(0x63C1), -25537);
    }
}
