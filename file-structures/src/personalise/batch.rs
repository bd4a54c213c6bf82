//! Many cards at once: either every record is good and every card is made, or the batch reports
//! the bad records and makes nothing, unless the caller explicitly allows a partial batch.

use super::image::CardImage;
use super::keys::IssuerKeys;
use super::record::{CardRecord, RecordError};
use super::script::{encode_record, PersoError, Personaliser, Script};
use crate::layout::Layout;

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

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
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
    let total = records.len();
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
    if !failed.is_empty() && !options.allow_partial {
        return Err(BatchError::Rejected {
            total,
            bad_records: total - good.len(),
            failed,
        });
    }
    let personaliser = Personaliser::new(layout, keys);
    let to_make = good.len();
    for (i, record) in good.iter().enumerate() {
        let card = |source| BatchError::Card {
            record: record.label.clone(),
            source,
        };
        let output = match options.output {
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
