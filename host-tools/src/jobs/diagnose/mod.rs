//! `sscard diagnose`: why a holder's card "doesn't work", from the reader and the card alone.
//!
//! A battery of read-only checks (docs/diagnostics.md) — reader, card, ATR, SSC profile, SELECT
//! SSSE, every freely readable file, per-file integrity, data validity and consistency, dates,
//! life cycle and activation, PIN tries left, stability and timing — each pass / warn / fail with
//! its evidence (the APDUs and status words), then a verdict from a rule table: the likely cause
//! from the field's list and what the clerk should do next. Every command goes through
//! [`guard::ReadOnly`], which refuses anything that could change the card; the PIN is only asked
//! for its tries left (VERIFY without data), which spends none.

mod check_id;
mod checks;
pub mod guard;
pub mod matrix;
pub mod purse;
mod render;
pub mod verdict;

use std::time::Duration;

use file_structures::layout::Layout;
use serde::Serialize;

pub use check_id::CheckId;
pub use checks::diagnose;
pub use file_structures::codec::Day;
pub use guard::{Exchange, ReadOnly};
pub use verdict::{cause_of_refusal, verdict, Action, Cause, Facts};

/// Slower median answers than this are flagged: far above any healthy card's, well below the
/// simulator's slow-card fault.
pub const SLOW_THRESHOLD: Duration = Duration::from_millis(50);
/// READ RECORDs repeated by the stability check.
pub const STABILITY_READS: usize = 8;

/// How to diagnose.
#[derive(Debug, Clone)]
pub struct Options {
    /// The day the dates are judged on.
    pub today: Day,
    /// The layout to read with; `None`: the national one of the version the ATR announces (3.0
    /// when it announces none).
    pub layout: Option<Layout>,
    pub slow_threshold: Duration,
    pub stability_reads: usize,
}

impl Options {
    pub fn new(today: Day) -> Self {
        Options {
            today,
            layout: None,
            slow_threshold: SLOW_THRESHOLD,
            stability_reads: STABILITY_READS,
        }
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// Not run: an earlier check made it pointless.
    Skipped,
}

/// One check of the battery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which check (its stable id in `--json`: `reader`, `card`, ... `stability`).
    pub id: CheckId,
    /// `id`'s title, for people.
    pub title: &'static str,
    pub outcome: Outcome,
    /// What was found, in one or more sentences.
    pub detail: String,
    /// The exchanges the check made.
    pub evidence: Vec<Exchange>,
}

impl Check {
    /// A check's outcome without evidence.
    pub fn new(id: CheckId, outcome: Outcome, detail: impl Into<String>) -> Self {
        Check {
            id,
            title: id.title(),
            outcome,
            detail: detail.into(),
            evidence: Vec::new(),
        }
    }
}

/// Everything a diagnosis found and concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub reader: String,
    pub today: String,
    pub layout: Option<String>,
    pub checks: Vec<Check>,
    pub facts: Facts,
    pub cause: Cause,
    pub cause_words: &'static str,
    pub action: Action,
    pub action_words: &'static str,
    /// Commands the read-only guard refused (always 0 unless the battery has a defect).
    pub refused_commands: usize,
}

impl Report {
    /// The human form (see docs/diagnostics.md).
    pub fn render(&self) -> String {
        render::render(self)
    }
}
