//! A card that could not be opened: which check the transport's error fails, and which fact it
//! establishes. Every error has its own cause: a busy reader, a missing or damaged card image or a
//! garbage ATR is not "no card".

use super::super::verdict::Facts;
use super::super::{Check, CheckId, Outcome};
use super::session::skip;
use crate::transport::TransportError;

/// What an error on opening says, as far as diagnostics are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finding {
    NoReader,
    SystemError,
    ReaderBusy,
    ImageMissing,
    ImageDamaged,
    NoCard,
    /// A card is there and gives no ATR.
    NoAtr,
    /// A card is there and its ATR cannot be used.
    UnusableAtr,
}

/// Every transport error is named here, so a new one must be given its finding.
fn finding(error: &TransportError) -> Finding {
    use TransportError as T;
    match error {
        T::ServiceUnavailable
        | T::NoReader
        | T::ReaderNotFound(_)
        | T::ReaderAmbiguous(_)
        | T::ReaderGone => Finding::NoReader,
        // pcscd hung, or another failure that says nothing about the card.
        T::ServiceNoAnswer(_) | T::Pcsc(_) | T::Trace(_) | T::Io(_) => Finding::SystemError,
        // Another program has the card, or the card image (`sscard sim serve`, another sscard).
        T::CardInUse | T::CardReset | T::ImageInUse { .. } => Finding::ReaderBusy,
        // Missing, not readable or not writable (permissions, a directory): no usable image.
        T::ImageIo { .. } | T::ImageReadOnly { .. } => Finding::ImageMissing,
        T::DamagedImage { .. } | T::SimulatorPowerOn(_) => Finding::ImageDamaged,
        T::NoCard | T::CardRemoved | T::Timeout(_) => Finding::NoCard,
        // A card in the reader that gives nothing usable: no ATR, or no answer within the bound.
        T::CardUnresponsive | T::ShortResponse(_) | T::NoAnswer(_) => Finding::NoAtr,
        T::UnusableAtr => Finding::UnusableAtr,
    }
}

/// The checks and facts of a card that could not be opened.
pub(super) fn failed(error: TransportError) -> (Vec<Check>, Facts) {
    let mut facts = Facts::default();
    let reason = error.to_string();
    let finding = finding(&error);
    let reader_answers = || Check::new(CheckId::Reader, Outcome::Pass, "the reader answers");
    let simulator = || Check::new(CheckId::Reader, Outcome::Pass, "the simulator");
    let card_seen = || {
        Check::new(
            CheckId::Card,
            Outcome::Pass,
            "a card is inserted (the reader sees it)",
        )
    };
    let (mut checks, failed, skip_reason) = match finding {
        Finding::NoReader => {
            facts.no_reader = true;
            (Vec::new(), CheckId::Reader, "no reader")
        }
        Finding::SystemError => {
            facts.system_error = true;
            (Vec::new(), CheckId::Reader, "the reader could not be used")
        }
        Finding::ReaderBusy => {
            facts.reader_busy = true;
            (vec![reader_answers()], CheckId::Card, "the card is busy")
        }
        Finding::ImageMissing => {
            facts.image_missing = true;
            (vec![simulator()], CheckId::Card, "no card image")
        }
        Finding::ImageDamaged => {
            facts.image_damaged = true;
            (
                vec![simulator()],
                CheckId::Card,
                "the card image is damaged",
            )
        }
        Finding::NoCard => {
            facts.no_card = true;
            (vec![reader_answers()], CheckId::Card, "no card")
        }
        Finding::NoAtr => {
            facts.no_atr = true;
            (vec![reader_answers(), card_seen()], CheckId::Atr, "no ATR")
        }
        Finding::UnusableAtr => {
            facts.bad_atr = true;
            (
                vec![reader_answers(), card_seen()],
                CheckId::Atr,
                "no valid ATR",
            )
        }
    };
    let detail = match finding {
        Finding::NoAtr => format!("no ATR: {reason}"),
        _ => reason,
    };
    checks.push(Check::new(failed, Outcome::Fail, detail));
    skip(&mut checks, failed.skips(), skip_reason);
    (checks, facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn an_unreadable_image_a_reset_by_another_program_and_a_garbage_atr_have_their_findings() {
        let denied = TransportError::ImageIo {
            path: "x.card".into(),
            source: std::io::Error::from(ErrorKind::PermissionDenied),
        };
        assert_eq!(finding(&denied), Finding::ImageMissing);
        assert_eq!(finding(&TransportError::UnusableAtr), Finding::UnusableAtr);
        assert_eq!(finding(&TransportError::CardReset), Finding::ReaderBusy);
    }
}
