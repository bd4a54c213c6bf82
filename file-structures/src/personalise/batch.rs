//! Many cards at once: either every record is good and every card is made, or the batch reports
//! the bad records and makes nothing, unless the caller explicitly allows a partial batch.
//!
//! A batch is checked whole before anything is made ([`check_batch`]), so that a caller can also
//! check where the cards will go before the first is written; [`make_batch`] then makes them.
//! Records that would make the same card twice (the same card number, card identification code
//! or social security number) refuse the whole batch, partial or not: which of the two is right
//! is for a person to say.

use std::collections::BTreeMap;

use super::image::CardImage;
use super::keys::IssuerKeys;
use super::record::{CardRecord, RecordError};
use super::script::{encode_record, PersoError, Personaliser, Script};
use crate::codec::{self, Encoding};
use crate::layout::Layout;

/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 100_000;
/// Largest batch file, in bytes.
pub const MAX_BATCH_FILE_BYTES: usize = 64 << 20;

/// The encodings of the values that identify one card: no two records of a batch may share one.
pub const UNIQUE_ENCODINGS: [Encoding; 3] = [
    Encoding::CardNumber,
    Encoding::CardIdCode,
    Encoding::CitizenId,
];

/// What a batch makes per card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Script,
    Image,
}

/// A batch's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    pub output: Output,
    /// Make the good cards even when some records are bad (the CLI's explicit flag).
    pub allow_partial: bool,
}

/// One card made.
#[derive(Debug)]
pub enum CardOutput {
    Script(Script),
    Image(CardImage),
}

/// How far a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Records checked so far (nothing is made before every record is checked).
    Checked { done: usize, total: usize },
    /// Cards made so far.
    Made { done: usize, total: usize },
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct BatchReport {
    pub made: usize,
    /// Every bad record, with every bad field.
    pub failed: Vec<RecordError>,
}

/// One value that several records of a batch share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Duplicate {
    /// The field id, e.g. "card_number".
    pub field: String,
    /// The records (with their lines) that share it, in batch order.
    pub records: Vec<String>,
}

impl std::fmt::Display for Duplicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is the same in {}",
            self.field,
            self.records.join(", ")
        )
    }
}

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the batch has no records, so no card was made")]
    Empty,
    #[error("the batch has more than {limit} records, the limit: split it")]
    TooManyRecords { limit: usize },
    #[error("{} value(s) would make the same card twice, so no card was made: {}", .duplicates.len(), .duplicates.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Duplicates { duplicates: Vec<Duplicate> },
    #[error("{bad_records} of {total} records are bad ({} problems), so no card was made (allow a partial batch to make the others); the first: {}", .failed.len(), .failed.first().map(|e| e.to_string()).unwrap_or_default())]
    Rejected {
        total: usize,
        /// How many records are bad; `failed` may hold several problems per record.
        bad_records: usize,
        failed: Vec<RecordError>,
    },
    #[error("making the card of {record} failed")]
    Card {
        record: String,
        #[source]
        source: PersoError,
    },
    #[error("storing the card of {record} failed")]
    Sink {
        record: String,
        #[source]
        source: std::io::Error,
    },
}

/// A batch whose records have all been checked: the good ones, to be made, and the bad ones.
#[derive(Debug)]
pub struct CheckedBatch {
    good: Vec<CardRecord>,
    failed: Vec<RecordError>,
}

impl CheckedBatch {
    /// The records whose cards will be made, in batch order.
    pub fn records(&self) -> &[CardRecord] {
        &self.good
    }
}

/// Checks every record, then (if all are good, or `allow_partial`) makes each good card and
/// hands it to `sink`. `progress` is called after each record and each card.
pub fn personalise_batch(
    layout: &Layout,
    records: Vec<Result<CardRecord, RecordError>>,
    keys: &IssuerKeys,
    options: BatchOptions,
    progress: &mut dyn FnMut(Progress),
    sink: &mut dyn FnMut(&CardRecord, CardOutput) -> Result<(), std::io::Error>,
) -> Result<BatchReport, BatchError> {
    let checked = check_batch(layout, records, options.allow_partial, progress)?;
    make_batch(layout, checked, keys, options.output, progress, sink)
}

/// Checks a whole batch without making anything: its size, every record against the layout, and
/// that no two records would make the same card.
pub fn check_batch(
    layout: &Layout,
    records: Vec<Result<CardRecord, RecordError>>,
    allow_partial: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckedBatch, BatchError> {
    let total = records.len();
    if total == 0 {
        return Err(BatchError::Empty);
    }
    if total > MAX_BATCH_RECORDS {
        return Err(BatchError::TooManyRecords {
            limit: MAX_BATCH_RECORDS,
        });
    }
    let mut good = Vec::with_capacity(total);
    let mut failed = Vec::new();
    for (i, record) in records.into_iter().enumerate() {
        match record {
            Ok(r) => match encode_record(layout, &r) {
                Ok(_) => good.push(r),
                Err(errors) => failed.extend(errors),
            },
            Err(e) => failed.push(e),
        }
        progress(Progress::Checked { done: i + 1, total });
    }
    let duplicates = duplicates(layout, &good);
    if !duplicates.is_empty() {
        return Err(BatchError::Duplicates { duplicates });
    }
    if !failed.is_empty() && !allow_partial {
        return Err(BatchError::Rejected {
            total,
            bad_records: total - good.len(),
            failed,
        });
    }
    Ok(CheckedBatch { good, failed })
}

/// Every value of a [`UNIQUE_ENCODINGS`] field that more than one record has, compared as
/// encoded for the card (so `x` and `X` of a citizen ID are the same).
fn duplicates(layout: &Layout, records: &[CardRecord]) -> Vec<Duplicate> {
    let mut found = Vec::new();
    let unique = layout
        .fields()
        .filter(|f| UNIQUE_ENCODINGS.contains(&f.field.encoding));
    for f in unique {
        let field = f.field;
        let mut holders: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for (index, record) in records.iter().enumerate() {
            let encoded = record
                .values
                .get(&field.id)
                .and_then(|v| codec::encode(field.encoding, usize::from(field.len), v).ok());
            if let Some(bytes) = encoded {
                holders.entry(bytes).or_default().push(index);
            }
        }
        let mut shared: Vec<Vec<usize>> = holders.into_values().filter(|r| r.len() > 1).collect();
        // In batch order: by the first record that has the value.
        shared.sort_unstable();
        found.extend(shared.into_iter().map(|indices| {
            Duplicate {
                field: field.id.clone(),
                records: indices
                    .into_iter()
                    .map(|i| records[i].label.clone())
                    .collect(),
            }
        }));
    }
    found
}

/// Makes each card of a checked batch and hands it to `sink`.
pub fn make_batch(
    layout: &Layout,
    checked: CheckedBatch,
    keys: &IssuerKeys,
    output: Output,
    progress: &mut dyn FnMut(Progress),
    sink: &mut dyn FnMut(&CardRecord, CardOutput) -> Result<(), std::io::Error>,
) -> Result<BatchReport, BatchError> {
    let CheckedBatch { good, failed } = checked;
    let personaliser = Personaliser::new(layout, keys);
    let to_make = good.len();
    for (i, record) in good.iter().enumerate() {
        let card = |source| BatchError::Card {
            record: record.label.clone(),
            source,
        };
        let output = match output {
            Output::Script => CardOutput::Script(personaliser.script(record).map_err(card)?),
            Output::Image => CardOutput::Image(personaliser.card_image(record).map_err(card)?),
        };
        sink(record, output).map_err(|source| BatchError::Sink {
            record: record.label.clone(),
            source,
        })?;
        progress(Progress::Made {
            done: i + 1,
            total: to_make,
        });
    }
    Ok(BatchReport {
        made: to_make,
        failed,
    })
}
