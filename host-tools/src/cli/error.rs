//! The CLI's one error type: a sentence for a person, a class for the exit code, an object for --json.

use serde_json::{json, Value};

use host_tools::apdu::ApduError;
use host_tools::atr::AtrError;
use host_tools::client::ClientError;
use host_tools::hexstr::HexError;
use host_tools::transport::TransportError;

/// Exit codes, one per class of failure (the table in docs/host-tools.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// An unexpected failure (an unusual PC/SC error, a simulator fault).
    Failure = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// The PC/SC service is not running.
    Service = 3,
    /// No reader, the named reader is not there, or it was unplugged.
    Reader = 4,
    /// No card in the reader (including: none arrived before the timeout).
    NoCard = 5,
    /// The card was removed, or lost power, during the command.
    CardRemoved = 6,
    /// The card does not answer, or does not speak ISO 7816 properly.
    CardUnresponsive = 7,
    /// Another program holds or reset the card.
    CardBusy = 8,
    /// The card answered with an error status word.
    Refused = 9,
    /// Bad input: hex, an ATR, an APDU.
    BadInput = 10,
    /// The card image is damaged or not a card image.
    ImageDamaged = 11,
    /// A file could not be read or written (card image, trace).
    Io = 12,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("argument {argument} is not hex: {source}")]
    BadHex { argument: usize, source: HexError },
    #[error("argument {argument} is not a command APDU: {source}")]
    BadApdu { argument: usize, source: ApduError },
    #[error("this is not an ATR: {0}")]
    BadAtr(#[from] AtrError),
    #[error("the card refused command {index} ({label}): {sw}")]
    Refused {
        index: usize,
        label: String,
        sw: String,
    },
    #[error("could not create {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error("could not write the output: {0}")]
    Output(#[source] std::io::Error),
    #[error("{0}")]
    Usage(String),
}

fn transport_class(e: &TransportError) -> (ExitClass, &'static str) {
    use TransportError as T;
    match e {
        T::ServiceUnavailable => (ExitClass::Service, "service_unavailable"),
        T::NoReader => (ExitClass::Reader, "no_reader"),
        T::ReaderNotFound(_) => (ExitClass::Reader, "reader_not_found"),
        T::ReaderAmbiguous(_) => (ExitClass::Reader, "reader_ambiguous"),
        T::ReaderGone => (ExitClass::Reader, "reader_gone"),
        T::NoCard => (ExitClass::NoCard, "no_card"),
        T::Timeout(_) => (ExitClass::NoCard, "timeout"),
        T::CardRemoved => (ExitClass::CardRemoved, "card_removed"),
        // A card that drops mid-APDU shows up as an answer without a status word.
        T::ShortResponse(_) => (ExitClass::CardRemoved, "short_response"),
        T::CardUnresponsive => (ExitClass::CardUnresponsive, "card_unresponsive"),
        T::CardInUse => (ExitClass::CardBusy, "card_in_use"),
        T::CardReset => (ExitClass::CardBusy, "card_reset"),
        T::DamagedImage { .. } => (ExitClass::ImageDamaged, "image_damaged"),
        T::ImageIo { .. } => (ExitClass::Io, "image_io"),
        T::Trace(_) => (ExitClass::Io, "trace_io"),
        T::Io(_) => (ExitClass::Io, "io"),
        T::Pcsc(_) => (ExitClass::Failure, "pcsc"),
        T::SimulatorPowerOn(_) => (ExitClass::CardUnresponsive, "simulator_power_on"),
    }
}

impl CliError {
    /// The exit class and a stable name for programs.
    pub fn class(&self) -> (ExitClass, &'static str) {
        match self {
            CliError::Transport(e) | CliError::Client(ClientError::Transport(e)) => {
                transport_class(e)
            }
            CliError::Client(ClientError::Apdu(_)) => (ExitClass::BadInput, "bad_apdu"),
            CliError::Client(ClientError::GetResponseLimit(_)) => {
                (ExitClass::CardUnresponsive, "get_response_limit")
            }
            CliError::BadHex { .. } => (ExitClass::BadInput, "bad_hex"),
            CliError::BadApdu { .. } => (ExitClass::BadInput, "bad_apdu"),
            CliError::BadAtr(_) => (ExitClass::BadInput, "bad_atr"),
            CliError::Refused { .. } => (ExitClass::Refused, "card_refused"),
            CliError::CreateFile { .. } | CliError::Output(_) => (ExitClass::Io, "io"),
            CliError::Usage(_) => (ExitClass::Usage, "usage"),
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.class().0 as u8
    }

    /// What goes to stderr: the sentence, plus a caret line under a bad hex character.
    pub fn for_person(&self) -> String {
        match self {
            CliError::BadHex { source, .. } => format!("sscard: {self}\n{}", source.caret()),
            _ => format!("sscard: {self}"),
        }
    }

    /// The `--json` error object.
    pub fn to_json(&self) -> Value {
        let (class, kind) = self.class();
        let mut error = json!({
            "kind": kind,
            "exit_code": class as u8,
            "message": self.to_string(),
        });
        if let CliError::BadHex { argument, source } = self {
            error["argument"] = json!(argument);
            error["position"] = json!(source.position);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_own_code() {
        let classes = [
            ExitClass::Failure,
            ExitClass::Usage,
            ExitClass::Service,
            ExitClass::Reader,
            ExitClass::NoCard,
            ExitClass::CardRemoved,
            ExitClass::CardUnresponsive,
            ExitClass::CardBusy,
            ExitClass::Refused,
            ExitClass::BadInput,
            ExitClass::ImageDamaged,
            ExitClass::Io,
        ];
        let mut codes: Vec<u8> = classes.iter().map(|c| *c as u8).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), classes.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn transport_failures_keep_their_class_through_the_client() {
        let direct = CliError::from(TransportError::CardRemoved);
        let through = CliError::from(ClientError::Transport(TransportError::CardRemoved));
        assert_eq!(direct.exit_code(), ExitClass::CardRemoved as u8);
        assert_eq!(direct.class(), through.class());
        assert_eq!(
            CliError::from(TransportError::ServiceUnavailable).exit_code(),
            3
        );
    }

    #[test]
    fn bad_hex_points_at_the_character() {
        let source = host_tools::hexstr::parse("00A4 0X").unwrap_err();
        let e = CliError::BadHex {
            argument: 1,
            source,
        };
        assert_eq!(e.for_person(), "sscard: argument 1 is not hex: character 7 ('X') is not a hex digit\n  00A4 0X\n        ^");
        assert_eq!(e.to_json()["position"], 6);
        assert_eq!(e.exit_code(), 10);
    }
}
