//! What the runner runs vectors against: a card (raw APDU in, raw response out) and the target
//! that puts one in the state a vector needs, or says why it cannot.

use crate::facts::CardFacts;
use crate::format::{CardKind, Vector};

/// Why the card under test did not answer.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("the card could not be reached: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the card answered with {0} byte(s), fewer than a status word")]
    ShortResponse(usize),
    #[error("the simulated card does not power on ({0:?})")]
    PowerOn(card_os::PowerOnError),
    #[error("the {kind} card could not be built: {reason}")]
    Build { kind: &'static str, reason: String },
}

/// A card in a reader, with RAW semantics: no GET RESPONSE after `61xx`, no resend after `6Cxx`,
/// no chaining: the vectors check those themselves.
pub trait CardUnderTest {
    /// Resets the card (`cold`: power cycle, else warm reset) and returns its ATR.
    fn reset(&mut self, cold: bool) -> Result<Vec<u8>, CardError>;
    /// Sends one command APDU; returns the response APDU (data, SW1, SW2).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError>;
}

/// A card ready for one vector, and what is known about it.
pub struct Prepared<'a> {
    pub card: &'a mut dyn CardUnderTest,
    pub facts: &'a CardFacts,
}

/// Why a vector does not run on this target.
#[derive(Debug)]
pub enum NotPrepared {
    /// The precondition cannot be established here (reported as skipped, with the reason).
    Skip(String),
    /// The target failed (reported as an error of that vector).
    Error(CardError),
}

/// A source of cards in the state vectors need.
pub trait Target {
    /// Where the cards are, for reports ("simulator", a reader's name).
    fn name(&self) -> String;
    /// A card in the state `vector.card` describes; the runner resets it before the first step.
    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared>;
}

/// Options for a card the runner cannot re-personalise (a real card, a card image).
#[derive(Debug, Default)]
pub struct ExternalOptions {
    /// The card may be changed for good (PIN blocked, application blocked, data rewritten).
    pub disposable: bool,
    /// The cardholder record the card was personalised from, for vectors that compare data.
    pub holder: Option<file_structures::personalise::CardRecord>,
    /// The issuer keys of the card; `None`: the test issuer keys.
    pub keys: Option<file_structures::personalise::IssuerKeys>,
}

/// Any card behind a [`CardUnderTest`]: probed once (SELECT SSSE, READ RECORD of the card
/// identification, GET DATA of the life cycle) to learn which of the vector cards it is; vectors
/// for another card, and destructive vectors on a card not declared disposable, are skipped.
pub struct ExternalTarget<C> {
    card: C,
    name: String,
    options_disposable: bool,
    probe: Result<(CardKind, CardFacts), String>,
}

const SELECT_SSSE: [u8; 20] = [
    0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1,
    0xB1, 0xA3, 0xD5, 0xCF,
];

impl<C: CardUnderTest> ExternalTarget<C> {
    pub fn new(mut card: C, name: impl Into<String>, options: ExternalOptions) -> Self {
        let probe = probe(&mut card, options.holder, options.keys);
        ExternalTarget {
            card,
            name: name.into(),
            options_disposable: options.disposable,
            probe,
        }
    }

    /// Which vector card this card was found to be, or why it is none.
    pub fn kind(&self) -> Result<CardKind, &str> {
        match &self.probe {
            Ok((kind, _)) => Ok(*kind),
            Err(reason) => Err(reason),
        }
    }

    pub fn into_card(self) -> C {
        self.card
    }
}

/// Sends `apdu`; on `6Cxx` sends it again with Le = xx. Returns (data, sw).
fn ask<C: CardUnderTest>(card: &mut C, apdu: &[u8]) -> Result<(Vec<u8>, u16), String> {
    let mut apdu = apdu.to_vec();
    for _ in 0..2 {
        let response = card.transmit(&apdu).map_err(|e| e.to_string())?;
        let split = response
            .len()
            .checked_sub(2)
            .ok_or("the card answered without a status word")?;
        let sw = u16::from_be_bytes([response[split], response[split + 1]]);
        if sw >> 8 == 0x6C {
            if let Some(le) = apdu.last_mut() {
                *le = (sw & 0xFF) as u8;
                continue;
            }
        }
        return Ok((response[..split].to_vec(), sw));
    }
    Err("the card keeps answering 6Cxx".into())
}

fn probe<C: CardUnderTest>(
    card: &mut C,
    holder: Option<file_structures::personalise::CardRecord>,
    keys: Option<file_structures::personalise::IssuerKeys>,
) -> Result<(CardKind, CardFacts), String> {
    // A card that does not answer the reset or the first command answered nothing at all.
    let no_answer = |e: String| format!("the card answered nothing ({e})");
    card.reset(true).map_err(|e| no_answer(e.to_string()))?;
    let not_ssc = |what: &str, sw: u16| {
        format!("the card is not a personalised social security card ({what} answered {sw:04X})")
    };
    let (_, sw) = ask(card, &SELECT_SSSE).map_err(no_answer)?;
    if sw != 0x9000 && sw >> 8 != 0x61 {
        return Err(not_ssc("SELECT of SSSE", sw));
    }
    let (record, sw) = ask(card, &[0x00, 0xB2, 0x01, 0x2C, 0x12])?;
    let code: [u8; 16] = match (sw, record.as_slice()) {
        (0x9000, [0x01, 0x10, code @ ..]) => code
            .try_into()
            .map_err(|_| not_ssc("READ RECORD of the card identification code", sw))?,
        _ => return Err(not_ssc("READ RECORD of the card identification code", sw)),
    };
    let (version, sw) = ask(card, &[0x00, 0xB2, 0x03, 0x2C, 0x06])?;
    let kind = match (sw, version.as_slice()) {
        (0x9000, [0x03, 0x04, b'2', ..]) => CardKind::National20,
        (0x9000, [0x03, 0x04, b'3', ..]) => CardKind::National30,
        _ => {
            return Err(format!(
                "the card's specification version ({}) is neither 2.x nor 3.x",
                hex::encode_upper(&version)
            ))
        }
    };
    let [p1, p2] = card_os::data_tags::CARD_LIFE_CYCLE.to_be_bytes();
    let (life_cycle, sw) = ask(card, &[0x00, 0xCA, p1, p2, 0x01])?;
    if sw != 0x9000 || life_cycle != [card_os::memory_map::LIFE_CYCLE_ISSUED] {
        return Err(format!(
            "the card is not in the issued state (GET DATA 9F70 answered {} {sw:04X})",
            hex::encode_upper(&life_cycle)
        ));
    }
    let version = kind.layout_version().unwrap_or("2.0");
    let layout = file_structures::layout::national(version).map_err(|e| e.to_string())?;
    let keys = match keys {
        Some(k) => k,
        None => file_structures::personalise::IssuerKeys::test_keys().map_err(|e| e.to_string())?,
    };
    Ok((
        kind,
        CardFacts {
            layout: Some(layout),
            keys: Some(keys),
            holder,
            card_id_code: Some(code),
        },
    ))
}

impl<C: CardUnderTest> Target for ExternalTarget<C> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn prepare(&mut self, vector: &Vector) -> Result<Prepared<'_>, NotPrepared> {
        let (kind, facts) = match &self.probe {
            Ok(found) => found,
            Err(reason) => return Err(NotPrepared::Skip(reason.clone())),
        };
        if vector.card != *kind {
            return Err(NotPrepared::Skip(format!(
                "needs a {} card; this one is a {} card",
                vector.card.name(),
                kind.name()
            )));
        }
        if vector.destructive && !self.options_disposable {
            return Err(NotPrepared::Skip(
                "changes the card for good: only on a card declared disposable".into(),
            ));
        }
        Ok(Prepared {
            card: &mut self.card,
            facts,
        })
    }
}
