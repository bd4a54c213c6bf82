//! Running a script on the card OS in memory: a blank card image, personalised.

use card_os::{data_tags, format, Card, FormatParams, RamStorage, Storage};

use super::keys::IssuerKeys;
use super::record::CardRecord;
use super::script::{PersoError, Personaliser, Script};
use crate::layout::Layout;

/// Bytes of non-volatile memory of a simulated card (enough for the national layout with both
/// example extensions and room for local data).
pub const IMAGE_SIZE: usize = 32 * 1024;

/// The simulator's storage for one card.
pub type CardStorage = RamStorage<IMAGE_SIZE>;

/// A personalised card: its storage bytes and what a person wants to see about it.
#[derive(Clone)]
pub struct CardImage {
    pub bytes: Vec<u8>,
    pub summary: CardSummary,
}

impl std::fmt::Debug for CardImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardImage")
            .field("bytes", &self.bytes.len())
            .field("summary", &self.summary)
            .finish()
    }
}

/// One line's worth about a personalised card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CardSummary {
    pub record: String,
    pub card_id_code: String,
    pub card_number: Option<String>,
    pub steps: usize,
    /// Non-volatile bytes in use after personalisation.
    pub bytes_used: u32,
}

/// The format parameters of the card a script is for: serial number = the 8 card-specific bytes
/// of the card identification code; ATR historical bytes with the generation (0x20 for 2.0,
/// 0x30 for 3.0), the first two region bytes and bytes 9..12 of the card identification code.
pub fn format_params(layout: &Layout, card_id_code: &[u8; 16]) -> FormatParams {
    let mut serial = [0; 8];
    serial.copy_from_slice(&card_id_code[8..]);
    let generation = if layout.version.starts_with('2') {
        0x20
    } else {
        0x30
    };
    let mut card_bytes = [0; 4];
    card_bytes.copy_from_slice(&card_id_code[8..12]);
    FormatParams::ssc(
        serial,
        generation,
        [card_id_code[0], card_id_code[1]],
        card_bytes,
    )
}

/// Formats `storage` and runs every step of `script`; each must answer 9000.
pub fn run_script<S: Storage>(
    storage: &mut S,
    params: &FormatParams,
    script: &Script,
) -> Result<(), PersoError> {
    let record = || script.card.clone();
    format(storage, params).map_err(|e| PersoError::Format {
        record: record(),
        reason: format!("{e:?}"),
    })?;
    let mut card = Card::power_on(storage).map_err(|_| PersoError::Format {
        record: record(),
        reason: "the card does not power on after formatting".into(),
    })?;
    let mut response = [0u8; 258];
    for step in &script.steps {
        let n = card.process(&step.apdu, &mut response);
        let sw = match response.get(n.saturating_sub(2)..n) {
            Some(&[sw1, sw2]) => u16::from_be_bytes([sw1, sw2]),
            _ => 0,
        };
        if sw != 0x9000 {
            return Err(PersoError::Card {
                record: record(),
                step: step.label.to_string(),
                sw,
            });
        }
    }
    Ok(())
}

/// A card formatted for `layout` with only the file-system steps of `script` run on it: the
/// security steps (WRITE KEY and WRITE PIN, `80 D4`; ISSUE CARD, `80 F0`) are left out, so the
/// files can be read back without keys.
pub fn run_file_system_steps(
    layout: &Layout,
    mut script: Script,
) -> Result<Box<CardStorage>, PersoError> {
    script
        .steps
        .retain(|s| !matches!(s.apdu.get(..2), Some([0x80, 0xD4] | [0x80, 0xF0])));
    run_on_blank_card(layout, &script)
}

/// A blank card formatted for `layout` with every step of `script` run on it.
fn run_on_blank_card(layout: &Layout, script: &Script) -> Result<Box<CardStorage>, PersoError> {
    let mut storage = Box::new(CardStorage::new());
    run_script(
        &mut *storage,
        &format_params(layout, &script.card_id_code),
        script,
    )?;
    Ok(storage)
}

/// Non-volatile bytes in use, from GET DATA 0066 (free and total).
fn bytes_used<S: Storage>(storage: &mut S) -> u32 {
    let Ok(mut card) = Card::power_on(storage) else {
        return 0;
    };
    let mut response = [0u8; 16];
    let [p1, p2] = data_tags::MEMORY.to_be_bytes();
    let n = card.process(&[0x00, 0xCA, p1, p2, 0x08], &mut response);
    match response.get(..n) {
        Some(&[f0, f1, f2, f3, t0, t1, t2, t3, 0x90, 0x00]) => u32::from_be_bytes([t0, t1, t2, t3])
            .saturating_sub(u32::from_be_bytes([f0, f1, f2, f3])),
        _ => 0,
    }
}

/// Personalises one card in memory and returns its image (see [`Personaliser::card_image`]).
pub fn card_image(
    layout: &Layout,
    record: &CardRecord,
    keys: &IssuerKeys,
) -> Result<CardImage, PersoError> {
    Personaliser::new(layout, keys).card_image(record)
}

impl Personaliser<'_> {
    /// Personalises one card in memory: its script run on a freshly formatted card OS.
    pub fn card_image(&self, record: &CardRecord) -> Result<CardImage, PersoError> {
        let layout = self.layout();
        let script = self.script(record)?;
        let mut storage = run_on_blank_card(layout, &script)?;
        let card_number = layout
            .fields()
            .find(|f| f.field.encoding == crate::codec::Encoding::CardNumber);
        let summary = CardSummary {
            record: record.label.clone(),
            card_id_code: hex::encode_upper(script.card_id_code),
            card_number: card_number.and_then(|f| record.values.get(&f.field.id).cloned()),
            steps: script.steps.len(),
            bytes_used: bytes_used(&mut *storage),
        };
        Ok(CardImage {
            bytes: storage.as_bytes().to_vec(),
            summary,
        })
    }
}
