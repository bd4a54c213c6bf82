//! The confusion matrix: every fault of the catalogue (alone, and some pairs) injected into a
//! healthy card, diagnosed, and the verdict compared with the cause the fault stands for.

use file_structures::layout::Layout;
use file_structures::personalise::IssuerKeys;
use serde::Serialize;

use super::{diagnose, Cause, Day, Options};
use crate::transport::faults::{faulty_card, FaultError, FaultKind, MATRIX_TODAY};

/// The cause a fault stands for.
pub fn cause_of(kind: FaultKind) -> Cause {
    match kind {
        FaultKind::Mute | FaultKind::GarbageAtr | FaultKind::BadTck | FaultKind::NoDiagnosis => {
            Cause::DeadChip
        }
        FaultKind::MemoryFailure | FaultKind::Corrupted | FaultKind::Torn => Cause::MemoryDamaged,
        FaultKind::Loss | FaultKind::Slow => Cause::UnstableContact,
        FaultKind::PinBlocked => Cause::PinBlocked,
        FaultKind::AppBlocked => Cause::ApplicationBlocked,
        FaultKind::Expired => Cause::Expired,
        FaultKind::NotActivated => Cause::NotActivated,
        FaultKind::Inconsistent | FaultKind::BadCheckDigit => Cause::DataError,
    }
}

/// The cause expected for several faults at once: the most serious (the verdict's order);
/// a card without faults is healthy.
pub fn expected(faults: &[FaultKind]) -> Cause {
    faults
        .iter()
        .map(|&k| cause_of(k))
        .min()
        .unwrap_or(Cause::BackOffice)
}

/// The cases: no fault, each fault alone, and pairs that test the order of the rules.
pub fn cases() -> Vec<Vec<FaultKind>> {
    use FaultKind::*;
    let mut cases = vec![Vec::new()];
    cases.extend(FaultKind::ALL.iter().map(|&k| vec![k]));
    cases.extend([
        vec![Mute, PinBlocked],
        vec![NoDiagnosis, Expired],
        vec![Corrupted, Expired],
        vec![MemoryFailure, Loss],
        vec![Loss, PinBlocked],
        vec![Slow, NotActivated],
        vec![AppBlocked, Expired],
        vec![Expired, NotActivated],
        vec![BadCheckDigit, PinBlocked],
        vec![PinBlocked, NotActivated],
        vec![Inconsistent, Torn],
    ]);
    cases
}

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub faults: Vec<FaultKind>,
    pub expected: Cause,
    pub verdict: Cause,
    pub ok: bool,
}

/// Runs every case in-process on [`MATRIX_TODAY`]; `on_row` sees each row as it is done.
pub fn run(
    layout: &Layout,
    keys: &IssuerKeys,
    on_row: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>, FaultError> {
    let mut options = Options::new(Day::parse(MATRIX_TODAY).unwrap_or_else(Day::today));
    options.layout = Some(layout.clone());
    let mut rows = Vec::new();
    for faults in cases() {
        let card = faulty_card(layout, keys, &faults)?;
        let report = diagnose(Ok(card), &options);
        let expected = expected(&faults);
        let row = Row {
            ok: report.cause == expected,
            verdict: report.cause,
            expected,
            faults,
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// The matrix as a table for a person.
pub fn render(rows: &[Row]) -> String {
    let name = |c: Cause| {
        serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut out = format!("{:<28} {:<20} {:<20} ok\n", "fault", "expected", "verdict");
    for r in rows {
        let faults = if r.faults.is_empty() {
            "(none)".to_owned()
        } else {
            r.faults
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push_str(&format!(
            "{faults:<28} {:<20} {:<20} {}\n",
            name(r.expected),
            name(r.verdict),
            if r.ok { "yes" } else { "NO" }
        ));
    }
    let right = rows.iter().filter(|r| r.ok).count();
    out.push_str(&format!("{right} of {} correct\n", rows.len()));
    out
}
